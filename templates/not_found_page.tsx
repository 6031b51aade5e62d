/**
 * The page for an address that leads nowhere.
 *
 * @module
 */
import { t } from "../lib/web/i18n.ts";
import type { Lang } from "../lib/web/i18n.ts";
import { Layout } from "./layout.tsx";
import { LangSwitch } from "./lang_switch.tsx";

/** A 404 page with a way back to the chat */
export function NotFoundPage(props: { lang: Lang }) {
  const { lang } = props;
  return (
    <Layout
      lang={lang}
      title={`${t(lang, "not_found_title")} · ${t(lang, "app_name")}`}
      scripts={["lang_switch.js"]}
      bodyClass="page-login"
    >
      <main class="login-card">
        <p class="brand">{t(lang, "app_name")}</p>
        <h1 class="login-title">{t(lang, "not_found_title")}</h1>
        <p class="help">{t(lang, "not_found_text")}</p>
        <p>
          <a href="/chat" class="button primary">{t(lang, "not_found_back")}</a>
        </p>
        <LangSwitch lang={lang} />
      </main>
    </Layout>
  );
}
