/**
 * The UTS #39 confusable skeleton: two strings that look alike to a reader
 * have the same skeleton. The prototype table is Unicode's confusables.txt,
 * as the `unhomoglyph` package ships it (the one Matrix clients use).
 *
 * @module
 */
import unhomoglyph from "unhomoglyph";

// UTS #39 drops these before mapping: they draw nothing (CGJ, variation
// selectors, Hangul fillers, zero-width characters, tags).
const IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;

/**
 * skeleton(X) of UTS #39 section 4: NFD, drop default-ignorables, map each
 * character to its prototype, NFD again. Not meant to be shown to anyone.
 */
export function skeleton(text: string): string {
  const decomposed = text.normalize("NFD").replace(IGNORABLE, "");
  return unhomoglyph(decomposed).normalize("NFD");
}
