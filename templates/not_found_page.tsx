/**
 * The page for an address that leads nowhere.
 *
 * @module
 */
import { t } from "../lib/web/i18n.ts";
import type { Lang } from "../lib/web/i18n.ts";
import { CardPage } from "./card_page.tsx";

/** A 404 page with a way back to the chat */
export function NotFoundPage(props: { lang: Lang }) {
  const { lang } = props;
  return (
    <CardPage lang={lang} title="not_found_title">
      <p class="help">{t(lang, "not_found_text")}</p>
      <p>
        <a href="/chat" class="button primary">{t(lang, "not_found_back")}</a>
      </p>
    </CardPage>
  );
}
