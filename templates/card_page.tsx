/**
 * The frame of the small pages (login, not found): one card with the
 * app's name, a heading, the page's own content and the language switch.
 *
 * @module
 */
import type { Child } from "hono/jsx";
import { t } from "../lib/web/i18n.ts";
import type { Lang, MessageKey } from "../lib/web/i18n.ts";
import { Layout } from "./layout.tsx";
import { LangSwitch } from "./lang_switch.tsx";

/** A centred card page titled by the dictionary entry `title` */
export function CardPage(
  props: { lang: Lang; title: MessageKey; children?: Child },
) {
  const { lang } = props;
  return (
    <Layout
      lang={lang}
      title={`${t(lang, props.title)} · ${t(lang, "app_name")}`}
      scripts={["lang_switch.js"]}
      bodyClass="page-login"
    >
      <main class="login-card">
        <p class="brand">{t(lang, "app_name")}</p>
        <h1 class="login-title">{t(lang, props.title)}</h1>
        {props.children}
        <LangSwitch lang={lang} />
      </main>
    </Layout>
  );
}
