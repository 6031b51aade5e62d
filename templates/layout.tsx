/**
 * The HTML document every page shares: language, viewport, stylesheet and
 * the page's own module scripts (no inline script, so the CSP stays strict).
 *
 * @module
 */
import type { Child } from "hono/jsx";
import { raw } from "hono/html";
import type { Lang } from "../lib/web/i18n.ts";
import { assetPath } from "../lib/web/static_files.ts";

/** The HTML document around a page: head, stylesheet, scripts */
export function Layout(props: {
  lang: Lang;
  title: string;
  children?: Child;
  /** Files in static/ loaded as module scripts, in order */
  scripts?: string[];
  /** A class on body so each page can lay itself out */
  bodyClass?: string;
}) {
  return (
    <>
      {/* Without a doctype the browser falls back to quirks mode */}
      {raw("<!DOCTYPE html>")}
      <html lang={props.lang}>
        <head>
          <meta charset="utf-8" />
          <meta
            name="viewport"
            content="width=device-width, initial-scale=1"
          />
          <meta name="color-scheme" content="light dark" />
          <title>{props.title}</title>
          <link rel="stylesheet" href={assetPath("style.css")} />
          {/* Served by us so the browser does not ask for /favicon.ico */}
          <link
            rel="icon"
            href={assetPath("favicon.svg")}
            type="image/svg+xml"
          />
          {(props.scripts ?? []).map((name) => (
            <script type="module" src={assetPath(name)}></script>
          ))}
        </head>
        <body class={props.bodyClass}>{props.children}</body>
      </html>
    </>
  );
}
