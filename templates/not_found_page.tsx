/**
 * The page for an address that leads nowhere.
 *
 * @module
 */
import type { Lang } from "../lib/web/i18n.ts";
import { NoticePage } from "./notice_page.tsx";

/** A 404 page with a way back to the chat */
export function NotFoundPage(props: { lang: Lang }) {
  return (
    <NoticePage
      lang={props.lang}
      title="not_found_title"
      text="not_found_text"
    />
  );
}
