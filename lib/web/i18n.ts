/**
 * Every string a person sees, in English and Simplified Chinese, plus the
 * rules that choose between them.
 *
 * Placeholders are written `{name}` and filled by {@linkcode t} on the server
 * and by the same rule in the browser (static/chat/text.js), so the client gets
 * the raw templates from {@linkcode clientStrings}.
 *
 * @module
 */

/** A language the pages are available in */
export type Lang = "en" | "zh-CN";

/** Every supported language, English (the default) first */
export const LANGS: readonly Lang[] = ["en", "zh-CN"];

/** Why the login page is shown again, each with its own sentence */
export type LoginHint =
  | "nick_empty"
  | "nick_too_long"
  | "nick_bad_chars"
  | "nick_taken"
  | "session_lost"
  | "too_many_logins"
  | "store_unavailable"
  | "password_needed"
  | "password_wrong"
  | "password_rate_limited"
  | "banned"
  | "banned_permanent";

const en = {
  app_name: "Chat",
  lang_switch_label: "Language",
  // Each language is named in itself so a reader can find theirs
  lang_name_en: "English",
  lang_name_zh_cn: "中文",
  skip_to_input: "Skip to the message box",

  login_title: "Choose a nickname",
  login_explain:
    "Your nickname is the name others see next to your messages; no account or password is needed",
  login_label: "Nickname",
  login_submit: "Enter the chat",
  hint_nick_empty: "Please type a nickname",
  hint_nick_too_long:
    "That nickname is too long, please use at most {max} characters",
  hint_nick_bad_chars:
    "That nickname has invisible or control characters, please remove them",
  hint_nick_taken:
    "Someone is already using that nickname, please choose another",
  hint_session_lost: "Your session has ended, please enter your nickname again",
  hint_too_many_logins:
    "Too many logins from your address, please wait a minute and try again",
  hint_store_unavailable:
    "The chat cannot save logins right now, please try again in a little while",
  login_password_label: "Moderator password",
  hint_password_needed:
    "This nickname belongs to a moderator, please enter its password",
  hint_password_wrong: "That password is not right, please try again",
  hint_password_rate_limited:
    "Too many wrong passwords from your address, please wait {minutes} min",
  hint_banned:
    "A moderator has banned you from this chat for {minutes} more min",
  hint_banned_permanent: "A moderator has banned you from this chat",

  chat_title: "{room} · Chat",
  room_lobby: "Lobby",
  online_count: "{count} online",
  panel_toggle: "People and rooms",
  panel_close: "Close",
  signed_in_as: "Signed in as",
  logout: "Log out",
  online_heading: "Online",
  you_marker: "(you)",
  rooms_heading: "Rooms",
  rooms_loading: "Loading rooms…",
  rooms_error: "Could not load the rooms",
  room_users: "{count} online",
  room_form_label: "Go to or create a room",
  room_form_placeholder: "room-name",
  room_form_submit: "Go",
  room_form_invalid: "Room names are 1 to 32 lowercase letters, digits or -",
  messages_label: "Messages",
  messages_empty: "No messages yet, say hello!",
  message_label: "Message",
  message_placeholder: "Write a message",
  message_hint:
    "Enter sends, Shift+Enter adds a line, @ mentions, ↑ edits your last message",
  send: "Send",
  new_messages: "New messages ↓",
  status_connecting: "Connecting…",
  status_connected: "Connected",
  status_reconnecting: "Reconnecting in {seconds} s",
  status_reconnecting_now: "Reconnecting…",
  status_offline: "Offline",
  event_join: "{nickname} joined",
  event_leave: "{nickname} left",
  typing_one: "{nickname} is typing…",
  typing_many: "{names} are typing…",
  typing_list_separator: ", ",
  notice_missed: "Some messages sent while you were away could not be loaded",
  notice_restarting: "The server is restarting, reconnecting…",
  notice_not_sent: "Not sent",
  notice_sending: "Sending…",
  close_policy: "The server closed the connection because too much was sent",
  close_too_big: "That message was too big for the server",
  close_too_slow: "The connection was too slow and was closed",
  error_bad_request: "The server could not understand that message",
  error_too_long: "That message is too long",
  error_empty: "Empty messages are not sent",
  error_rate_limited: "You are sending messages too fast, please slow down",
  error_rate_limited_wait:
    "You are sending messages too fast, please wait {seconds} s",
  error_internal: "Something went wrong on the server, please try again",
  error_muted: "A moderator has muted you: you can read but not post",
  error_room_locked: "A moderator has locked this room: only moderators post",
  error_slow_mode: "Slow mode is on: please wait {seconds} s",
  close_kicked: "A moderator removed you from this room; reload to come back",
  close_banned: "A moderator has banned you from this chat",
  error_unknown: "Something went wrong ({code})",
  unread_title: "({count}) {title}",
  day_today: "Today",
  day_yesterday: "Yesterday",
  history_start: "This is the start of the room's history",
  history_loading: "Loading older messages…",
  history_error: "Could not load older messages",
  unread_divider: "New since you left",
  msg_edited: "(edited)",
  msg_deleted: "Message deleted",
  msg_deleted_moderator: "Message removed by a moderator",
  actions_label: "Actions for the message from {nickname}",
  action_react: "Add reaction",
  action_reply: "Reply",
  action_edit: "Edit",
  action_delete: "Delete",
  action_delete_confirm: "Really delete?",
  reaction_palette_label: "Reactions",
  reaction_other_label: "Any emoji",
  reaction_other_add: "Add",
  reaction_invalid: "Type a single emoji",
  reaction_who: "{names} reacted with {emoji}",
  replying_to: "Replying to {nickname}: {text}",
  editing: "Editing your message (Escape cancels)",
  compose_cancel: "Cancel",
  reply_goto: "Reply to {nickname}, go to the original",
  reply_gone: "Original message deleted",
  jump_missing: "The original message is no longer stored",
  mention_list_label: "People to mention",
  notify_toggle: "Notify me of mentions",
  notify_denied: "This browser blocks notifications from the chat",
  notify_title: "{nickname} mentioned you in {room}",
  mention_title: "(@{count}) {title}",
  room_unread: "{count} unread",
  room_unread_capped: "{count}+ unread",
  room_mentions: "{count} @",
  error_not_found: "That message is no longer there",
  error_forbidden: "Only the author can change that message",
  error_edit_window_closed: "That message is too old to edit",
  error_too_many_reactions:
    "That message has as many kinds of reaction as it can take",
  noscript: "This chat needs JavaScript to send and receive messages",

  not_found_title: "Page not found",
  not_found_text: "There is nothing at this address",
  not_found_back: "Back to the chat",
  rooms_full_title: "No room for another room",
  rooms_full_text:
    "This chat has as many rooms as it can keep, please join one of the rooms that exist",
  too_many_rooms_title: "Too many new rooms",
  too_many_rooms_text:
    "You have made many new rooms lately, please wait {seconds} s or join a room that exists",
} as const;

/** The name of one string, shared by every dictionary */
export type MessageKey = keyof typeof en;

// Typed against the English keys so a missing or extra key fails `deno check`
const zhCN: Record<MessageKey, string> = {
  app_name: "聊天室",
  lang_switch_label: "语言",
  lang_name_en: "English",
  lang_name_zh_cn: "中文",
  skip_to_input: "跳到消息输入框",

  login_title: "选择昵称",
  login_explain: "昵称是其他人在你的消息旁看到的名字，无需注册或密码",
  login_label: "昵称",
  login_submit: "进入聊天",
  hint_nick_empty: "请输入昵称",
  hint_nick_too_long: "昵称太长了，最多 {max} 个字符",
  hint_nick_bad_chars: "昵称含有不可见字符或控制字符，请删除它们",
  hint_nick_taken: "这个昵称已有人在用，请换一个",
  hint_session_lost: "会话已结束，请重新输入昵称",
  hint_too_many_logins: "你的地址登录次数过多，请稍等一分钟再试",
  hint_store_unavailable: "聊天室暂时无法保存登录，请稍后再试",
  login_password_label: "管理员密码",
  hint_password_needed: "这个昵称属于管理员，请输入密码",
  hint_password_wrong: "密码不正确，请重试",
  hint_password_rate_limited: "你的地址输错密码次数过多，请等待 {minutes} 分钟",
  hint_banned: "管理员已将你封禁，还剩 {minutes} 分钟",
  hint_banned_permanent: "管理员已将你永久封禁",

  chat_title: "{room} · 聊天室",
  room_lobby: "大厅",
  online_count: "{count} 人在线",
  panel_toggle: "成员与房间",
  panel_close: "关闭",
  signed_in_as: "当前昵称",
  logout: "退出",
  online_heading: "在线",
  you_marker: "（你）",
  rooms_heading: "房间",
  rooms_loading: "正在加载房间…",
  rooms_error: "无法加载房间列表",
  room_users: "{count} 人在线",
  room_form_label: "前往或创建房间",
  room_form_placeholder: "房间名",
  room_form_submit: "前往",
  room_form_invalid: "房间名为 1 到 32 个小写字母、数字或 -",
  messages_label: "消息",
  messages_empty: "还没有消息，打个招呼吧！",
  message_label: "消息",
  message_placeholder: "输入消息",
  message_hint: "Enter 发送，Shift+Enter 换行，@ 提及，↑ 编辑上一条消息",
  send: "发送",
  new_messages: "有新消息 ↓",
  status_connecting: "正在连接…",
  status_connected: "已连接",
  status_reconnecting: "{seconds} 秒后重新连接",
  status_reconnecting_now: "正在重新连接…",
  status_offline: "离线",
  event_join: "{nickname} 加入了",
  event_leave: "{nickname} 离开了",
  typing_one: "{nickname} 正在输入…",
  typing_many: "{names} 正在输入…",
  typing_list_separator: "、",
  notice_missed: "你离开期间的部分消息无法加载",
  notice_restarting: "服务器正在重启，正在重新连接…",
  notice_not_sent: "未发送",
  notice_sending: "发送中…",
  close_policy: "发送内容过多，服务器断开了连接",
  close_too_big: "消息太大，服务器无法接收",
  close_too_slow: "连接太慢，已被断开",
  error_bad_request: "服务器无法理解这条消息",
  error_too_long: "消息太长了",
  error_empty: "不能发送空消息",
  error_rate_limited: "发送太快了，请慢一点",
  error_rate_limited_wait: "发送太快了，请等待 {seconds} 秒",
  error_internal: "服务器出错了，请重试",
  error_muted: "你已被管理员禁言：可以阅读，但不能发言",
  error_room_locked: "管理员已锁定此聊天室：只有管理员可以发言",
  error_slow_mode: "慢速模式已开启：请等待 {seconds} 秒",
  close_kicked: "管理员已将你移出此聊天室；刷新页面即可回来",
  close_banned: "管理员已将你封禁",
  error_unknown: "出错了（{code}）",
  unread_title: "({count}) {title}",
  day_today: "今天",
  day_yesterday: "昨天",
  history_start: "这是房间记录的开头",
  history_loading: "正在加载更早的消息…",
  history_error: "无法加载更早的消息",
  unread_divider: "你离开后的新消息",
  msg_edited: "（已编辑）",
  msg_deleted: "消息已删除",
  msg_deleted_moderator: "消息已被管理员删除",
  actions_label: "{nickname} 的消息的操作",
  action_react: "添加表情回应",
  action_reply: "回复",
  action_edit: "编辑",
  action_delete: "删除",
  action_delete_confirm: "确定删除？",
  reaction_palette_label: "表情回应",
  reaction_other_label: "任意表情",
  reaction_other_add: "添加",
  reaction_invalid: "请输入一个表情",
  reaction_who: "{names} 回应了 {emoji}",
  replying_to: "回复 {nickname}：{text}",
  editing: "正在编辑你的消息（Esc 取消）",
  compose_cancel: "取消",
  reply_goto: "回复 {nickname}，前往原消息",
  reply_gone: "原消息已删除",
  jump_missing: "原消息已不在记录中",
  mention_list_label: "可以提及的人",
  notify_toggle: "有人提及我时通知我",
  notify_denied: "此浏览器阻止了聊天室的通知",
  notify_title: "{nickname} 在 {room} 提及了你",
  mention_title: "(@{count}) {title}",
  room_unread: "{count} 条未读",
  room_unread_capped: "{count}+ 条未读",
  room_mentions: "{count} @",
  error_not_found: "那条消息已经不在了",
  error_forbidden: "只有作者可以修改那条消息",
  error_edit_window_closed: "那条消息太久了，不能再编辑",
  error_too_many_reactions: "那条消息的表情回应种类已达上限",
  noscript: "聊天室需要启用 JavaScript 才能收发消息",

  not_found_title: "页面不存在",
  not_found_text: "这个地址没有任何内容",
  not_found_back: "返回聊天",
  rooms_full_title: "无法再创建房间",
  rooms_full_text: "聊天室的房间数已达上限，请加入已有的房间",
  too_many_rooms_title: "新建房间过多",
  too_many_rooms_text:
    "你最近创建了很多新房间，请等待 {seconds} 秒或加入已有的房间",
};

const DICTIONARIES: Record<Lang, Record<MessageKey, string>> = {
  "en": en,
  "zh-CN": zhCN,
};

// The strings the modules in static/chat/ and static/lang_switch.js look up at run time;
// the rest are only used while rendering on the server
const CLIENT_KEYS: readonly MessageKey[] = [
  "chat_title",
  "room_lobby",
  "online_count",
  "you_marker",
  "rooms_error",
  "room_users",
  "room_form_invalid",
  "messages_empty",
  "new_messages",
  "status_connecting",
  "status_connected",
  "status_reconnecting",
  "status_reconnecting_now",
  "status_offline",
  "event_join",
  "event_leave",
  "typing_one",
  "typing_many",
  "typing_list_separator",
  "notice_missed",
  "notice_restarting",
  "notice_not_sent",
  "notice_sending",
  "close_policy",
  "close_too_big",
  "close_too_slow",
  "error_bad_request",
  "error_too_long",
  "error_empty",
  "error_rate_limited",
  "error_rate_limited_wait",
  "error_internal",
  "error_muted",
  "error_room_locked",
  "error_slow_mode",
  "close_kicked",
  "close_banned",
  "error_unknown",
  "unread_title",
  "day_today",
  "day_yesterday",
  "history_start",
  "history_loading",
  "history_error",
  "unread_divider",
  "msg_edited",
  "msg_deleted",
  "msg_deleted_moderator",
  "actions_label",
  "action_react",
  "action_reply",
  "action_edit",
  "action_delete",
  "action_delete_confirm",
  "reaction_palette_label",
  "reaction_other_label",
  "reaction_other_add",
  "reaction_invalid",
  "reaction_who",
  "replying_to",
  "editing",
  "compose_cancel",
  "reply_goto",
  "reply_gone",
  "jump_missing",
  "notify_denied",
  "notify_title",
  "mention_title",
  "room_unread",
  "room_unread_capped",
  "room_mentions",
  "error_not_found",
  "error_forbidden",
  "error_edit_window_closed",
  "error_too_many_reactions",
];

/** Whether a string names a supported language exactly */
export function isLang(value: unknown): value is Lang {
  return typeof value === "string" &&
    (LANGS as readonly string[]).includes(value);
}

// Maps one BCP 47 tag to the language that serves its reader, if any.
// Every Chinese variant gets Simplified Chinese: we have no Traditional
// dictionary and it is still far closer than English for those readers.
function matchTag(tag: string): Lang | undefined {
  const primary = tag.trim().toLowerCase().split("-")[0];
  if (primary === "en") return "en";
  if (primary === "zh") return "zh-CN";
  return undefined;
}

/**
 * Chooses the page language: the `lang` cookie wins when it is valid,
 * then the best match in Accept-Language, then English.
 */
export function pickLang(
  cookieValue: string | undefined,
  acceptLanguage: string | undefined,
): Lang {
  if (cookieValue !== undefined) {
    // The cookie is set by our own switch, but tolerate a changed case
    const fromCookie = LANGS.find((l) =>
      l.toLowerCase() === cookieValue.trim().toLowerCase()
    );
    if (fromCookie) return fromCookie;
  }
  if (!acceptLanguage) return "en";
  // A browser sends a few dozen bytes; ignore the tail of an absurd header
  // rather than spend time on it
  const ranges = acceptLanguage.slice(0, 4096).split(",");
  let best: { lang: Lang; q: number; index: number } | undefined;
  ranges.forEach((range, index) => {
    const [tag, ...params] = range.split(";");
    let q = 1;
    for (const param of params) {
      const [name, value] = param.split("=").map((s) => s.trim());
      if (name.toLowerCase() === "q") {
        q = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(value ?? "")
          ? Number(value)
          : 0; // A malformed weight is treated as "not acceptable"
      }
    }
    if (q <= 0) return;
    const lang = matchTag(tag);
    if (!lang) return;
    // Higher weight wins; among equal weights the header order decides
    if (!best || q > best.q) best = { lang, q, index };
  });
  return best?.lang ?? "en";
}

/**
 * Looks up a string in the reader's language and fills `{name}` placeholders
 * from `vars`; an unknown placeholder is left as written so it shows up in
 * review instead of vanishing.
 */
export function t(
  lang: Lang,
  key: MessageKey,
  vars?: Record<string, string | number>,
): string {
  const template = DICTIONARIES[lang][key] ?? en[key];
  if (!vars) return template;
  return template.replace(
    /\{([a-z_]+)\}/g,
    (whole, name: string) =>
      Object.hasOwn(vars, name) ? String(vars[name]) : whole,
  );
}

/** The strings the browser needs, unfilled, to embed in the page as JSON */
export function clientStrings(lang: Lang): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of CLIENT_KEYS) out[key] = DICTIONARIES[lang][key];
  return out;
}

/** Every key of the dictionaries, for tests that compare languages */
export function messageKeys(): MessageKey[] {
  return Object.keys(en) as MessageKey[];
}

/** The raw dictionary of one language, for tests */
export function dictionary(lang: Lang): Readonly<Record<MessageKey, string>> {
  return DICTIONARIES[lang];
}
