// Every panel's reads run here: each task every N seconds, or at once when an event asks
// (debounced), never two runs of one task at a time. Errors are shown on the panel and
// retried on the next turn.
export class Scheduler {
  constructor() {
    this.tasks = new Map();
  }

  every(name, seconds, run) {
    const task = { name, seconds, run, timer: null, running: false, again: false, soon: false };
    this.tasks.set(name, task);
    return task;
  }

  start() {
    for (const task of this.tasks.values()) this.fire(task);
  }

  now(name, delayMs = 150) {
    // At most one early run pending: a burst of events costs one read, and a steady stream of
    // events cannot keep postponing it.
    const task = this.tasks.get(name);
    if (!task || task.soon) return;
    task.soon = true;
    clearTimeout(task.timer);
    task.timer = setTimeout(() => this.fire(task), delayMs);
  }

  setPeriod(name, seconds) {
    const task = this.tasks.get(name);
    if (task && task.seconds !== seconds) {
      task.seconds = seconds;
      this.now(name, 0);
    }
  }

  async fire(task) {
    if (task.running) {
      task.again = true;
      return;
    }
    clearTimeout(task.timer);
    task.soon = false;
    task.running = true;
    try {
      await task.run();
    } catch (error) {
      console.warn(`${task.name}:`, error.message);
    } finally {
      task.running = false;
      const wait = task.again ? 0 : task.seconds * 1000;
      task.again = false;
      task.timer = setTimeout(() => this.fire(task), wait);
    }
  }

  stop() {
    for (const task of this.tasks.values()) clearTimeout(task.timer);
  }
}
