/**
 * The language switch shown on every page. static/lang_switch.js makes the
 * buttons store a `lang` cookie and reload; lib/i18n.ts reads it back.
 *
 * @module
 */
import { LANGS, t } from "../lib/web/i18n.ts";
import type { Lang, MessageKey } from "../lib/web/i18n.ts";

const NAME_KEYS: Record<Lang, MessageKey> = {
  "en": "lang_name_en",
  "zh-CN": "lang_name_zh_cn",
};

/** Buttons to switch the page language, the current one marked pressed */
export function LangSwitch(props: { lang: Lang }) {
  return (
    <div
      class="lang-switch"
      role="group"
      aria-label={t(props.lang, "lang_switch_label")}
    >
      {LANGS.map((lang) => (
        <button
          type="button"
          class="lang-button"
          data-lang={lang}
          lang={lang}
          aria-pressed={lang === props.lang ? "true" : "false"}
        >
          {t(props.lang, NAME_KEYS[lang])}
        </button>
      ))}
    </div>
  );
}
