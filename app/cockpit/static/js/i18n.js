// Chinese by default, English by the switch; the choice is kept in localStorage (not a secret).
const TEXT = {
  zh: {
    title: "园区运行监测中心", apiKey: "API 密钥", park: "园区", signIn: "登录", signOut: "退出",
    keyHint: "密钥只保存在本浏览器标签页的会话中，关闭即清除。", lang: "English",
    soundOn: "声音：开", soundOff: "声音：关",
    liveOn: "实时", livePoll: "轮询", liveOff: "离线",
    viewer: "只读", operator: "值班员", admin: "管理员",
    mapTitle: "园区一张图", alarmsTitle: "告警", energyTitle: "能源", carbonTitle: "绿色低碳",
    economyTitle: "经济运行", emergencyTitle: "安全应急",
    critical: "紧急", major: "重要", minor: "次要", warning: "提示",
    normal: "正常", offline: "离线", maintenance: "维护", unknown: "未知",
    ack: "确认", shelve: "搁置", acked: "已确认", shelved: "已搁置", noAlarms: "无活动告警",
    shelveReason: "值班员在监测中心搁置", count: "次",
    floors: "楼层", devices: "设备", latest: "最新值", close: "关闭", lastSeen: "最近上报",
    loadNow: "当前负荷", pvNow: "光伏出力", todayKwh: "今日用电", yesterdaySame: "昨日同时段",
    offlineLeftOut: "台离线，未计入",
    powerIndex: "电力看经济指数", operatingRate: "开工率", today: "今日", yesterday: "昨日", pvToday: "今日光伏",
    topConsumers: "今日用电前列",
    ytdTce: "年累计能耗", ytdCo2: "年累计排放", budget: "预算", noBudget: "未设预算",
    cleanShare: "清洁能源占比", forecast: "全年预测",
    month: "月份", aboveScale: "规上企业", outputValue: "产值", valueAdded: "增加值",
    yoy: "同比", ytd: "累计", grades: "亩均评价等级", enterprises: "企业", noReport: "暂无月报",
    noIncidents: "无进行中的事件", reportDue: "上报倒计时", responseDue: "响应倒计时",
    hazard: "险情", accident: "事故", reported: "已上报", overdue: "已超时",
    zones: "影响范围", people: "人", buildings: "栋", nearest: "最近资源",
    gas_leak: "燃气泄漏", fire: "火灾", toxic_release: "有毒气体泄漏", power_outage: "停电",
    reportedStatus: "已报告", responding: "处置中", contained: "已控制", closed: "已关闭",
    red: "红色", orange: "橙色", yellow: "黄色", blue: "蓝色",
    unauthorized: "密钥无效或已吊销，请重新登录", forbidden: "当前角色无此权限",
    failed: "请求失败",
  },
  en: {
    title: "Operations Centre", apiKey: "API key", park: "Park", signIn: "Sign in", signOut: "Sign out",
    keyHint: "The key is kept only in this tab's session storage and is gone when it closes.",
    lang: "中文", soundOn: "Sound: on", soundOff: "Sound: off",
    liveOn: "live", livePoll: "polling", liveOff: "offline",
    viewer: "viewer", operator: "operator", admin: "admin",
    mapTitle: "Park map", alarmsTitle: "Alarms", energyTitle: "Energy", carbonTitle: "Green & low-carbon",
    economyTitle: "Economy", emergencyTitle: "Safety & emergency",
    critical: "critical", major: "major", minor: "minor", warning: "warning",
    normal: "normal", offline: "offline", maintenance: "maintenance", unknown: "unknown",
    ack: "Ack", shelve: "Shelve", acked: "acknowledged", shelved: "shelved", noAlarms: "No active alarms",
    shelveReason: "shelved from the operations centre", count: "×",
    floors: "Floors", devices: "Devices", latest: "Latest", close: "Close", lastSeen: "last seen",
    loadNow: "Load now", pvNow: "PV output", todayKwh: "Today", yesterdaySame: "Yesterday, same hours",
    offlineLeftOut: "offline, not counted",
    powerIndex: "Electricity index", operatingRate: "Operating rate", today: "today", yesterday: "yesterday", pvToday: "PV today",
    topConsumers: "Top consumers today",
    ytdTce: "Energy YTD", ytdCo2: "Emissions YTD", budget: "budget", noBudget: "no budget set",
    cleanShare: "Clean-energy share", forecast: "forecast",
    month: "Month", aboveScale: "Above-scale firms", outputValue: "Output", valueAdded: "Value added",
    yoy: "YoY", ytd: "YTD", grades: "Per-mu grades", enterprises: "firms", noReport: "no monthly reports",
    noIncidents: "No open incidents", reportDue: "Report due in", responseDue: "Response due in",
    hazard: "hazard event", accident: "accident", reported: "reported", overdue: "overdue",
    zones: "Zones", people: "people", buildings: "buildings", nearest: "Nearest resources",
    gas_leak: "Gas leak", fire: "Fire", toxic_release: "Toxic release", power_outage: "Power outage",
    reportedStatus: "reported", responding: "responding", contained: "contained", closed: "closed",
    red: "red", orange: "orange", yellow: "yellow", blue: "blue",
    unauthorized: "Unknown or revoked key: please sign in again", forbidden: "Your role may not do this",
    failed: "Request failed",
  },
};

let lang = localStorage.getItem("parktwin.lang") === "en" ? "en" : "zh";
const listeners = [];

export function t(key) {
  return TEXT[lang][key] ?? TEXT.zh[key] ?? key;
}

export function currentLang() {
  return lang;
}

export function locale() {
  return lang === "en" ? "en-GB" : "zh-CN";
}

export function onLangChange(fn) {
  listeners.push(fn);
}

export function applyStatic(root = document) {
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
}

export function toggleLang() {
  lang = lang === "en" ? "zh" : "en";
  localStorage.setItem("parktwin.lang", lang);
  applyStatic();
  for (const fn of listeners) fn(lang);
}
