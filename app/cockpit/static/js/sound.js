// A short two-tone alert through WebAudio (no audio file to ship). Browsers allow sound only
// after a user gesture, so the operator switches it on once with the header button.
let context = null;

export function soundEnabled() {
  return context !== null;
}

export function enableSound() {
  context = context || new AudioContext();
  return context.resume();
}

export function disableSound() {
  if (context) context.close();
  context = null;
}

export function alertTone() {
  if (!context) return;
  const start = context.currentTime;
  for (const [offset, freq] of [[0, 880], [0.25, 660], [0.5, 880]]) {
    const osc = context.createOscillator();
    const gain = context.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.2, start + offset);
    gain.gain.exponentialRampToValueAtTime(0.001, start + offset + 0.22);
    osc.connect(gain).connect(context.destination);
    osc.start(start + offset);
    osc.stop(start + offset + 0.23);
  }
}
