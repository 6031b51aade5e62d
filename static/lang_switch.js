// @ts-check
/**
 * Makes the language buttons (templates/lang_switch.tsx) work: the choice
 * is kept in a plain `lang` cookie that the server reads with pickLang.
 *
 * @module
 */

/** How long the choice is remembered: one year, in seconds */
const COOKIE_MAX_AGE = 365 * 24 * 3600;

/** Stores the language choice and reloads the page in that language */
export function chooseLanguage(/** @type {string} */ lang) {
  document.cookie = `lang=${
    encodeURIComponent(lang)
  }; path=/; max-age=${COOKIE_MAX_AGE}; samesite=lax`;
  // A GET of the same address, not reload(): after a failed login POST a
  // reload would ask to send the form again
  location.replace(location.pathname + location.search);
}

for (const button of document.querySelectorAll("button[data-lang]")) {
  button.addEventListener("click", () => {
    const lang = button.getAttribute("data-lang");
    if (lang && button.getAttribute("aria-pressed") !== "true") {
      chooseLanguage(lang);
    }
  });
}
