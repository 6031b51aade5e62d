/**
 * Every string a person sees, in English: the reference dictionary whose
 * keys every other language must have (lib/web/i18n.ts).
 *
 * @module
 */

/** The English strings, by key. */
export const EN = {
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

/** The key of a string a person sees. */
export type MessageKey = keyof typeof EN;
