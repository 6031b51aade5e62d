/**
 * A small page that says why something cannot be done, with a way back to
 * the chat: an address that leads nowhere, a room that cannot be made.
 *
 * @module
 */
import { t } from "../lib/web/i18n.ts";
import type { Lang, MessageKey } from "../lib/web/i18n.ts";
import { CardPage } from "./card_page.tsx";

/** A card titled `title` that explains itself in `text`, filled with `vars` */
export function NoticePage(
  props: {
    lang: Lang;
    title: MessageKey;
    text: MessageKey;
    vars?: Record<string, string | number>;
  },
) {
  const { lang } = props;
  return (
    <CardPage lang={lang} title={props.title}>
      <p class="help">{t(lang, props.text, props.vars)}</p>
      <p>
        <a href="/chat" class="button primary">{t(lang, "not_found_back")}</a>
      </p>
    </CardPage>
  );
}
