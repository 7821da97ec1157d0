// The brief's Markdown, sanitised, with its `[n]` markers turned into links to source n.
import DOMPurify from "dompurify";
import { marked } from "marked";

const MARKER = /\[(\d+(?:\s*,\s*\d+)*)\]/g;

function linkCitations(root: DocumentFragment, sourceCount: number): void {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const texts: Text[] = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!(node.parentElement?.closest("a, code, pre") ?? null) && MARKER.test(node.nodeValue ?? "")) texts.push(node as Text);
    MARKER.lastIndex = 0;
  }
  for (const text of texts) {
    const value = text.nodeValue ?? "";
    const pieces = document.createDocumentFragment();
    let last = 0;
    for (const found of value.matchAll(MARKER)) {
      pieces.append(value.slice(last, found.index));
      const numbers = found[1].split(",").map((n) => Number(n.trim()));
      if (numbers.every((n) => n >= 1 && n <= sourceCount)) {
        pieces.append("[");
        numbers.forEach((n, i) => {
          if (i) pieces.append(", ");
          const a = document.createElement("a");
          a.href = `#source-${n}`;
          a.className = "cite";
          a.dataset.cite = String(n);
          a.textContent = String(n);
          a.setAttribute("aria-label", `Source ${n}`);
          pieces.append(a);
        });
        pieces.append("]");
      } else {
        pieces.append(found[0]);
      }
      last = (found.index ?? 0) + found[0].length;
    }
    pieces.append(value.slice(last));
    text.replaceWith(pieces);
  }
}

/** The elements Markdown itself produces: a brief written by a model gets nothing else
 * (no img, form, input, iframe, style or script, whatever the sources put in its way). */
const MARKDOWN_TAGS = [
  "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li",
  "ol", "p", "pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
];
const MARKDOWN_ATTRIBUTES = ["href", "title", "start", "align"];

/** Markdown → safe HTML; external links open in a new tab. */
export function renderBrief(markdown: string, sourceCount: number): string {
  const html = marked.parse(markdown, { async: false, gfm: true });
  const fragment = DOMPurify.sanitize(html, {
    RETURN_DOM_FRAGMENT: true,
    ALLOWED_TAGS: MARKDOWN_TAGS,
    ALLOWED_ATTR: MARKDOWN_ATTRIBUTES,
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
  });
  linkCitations(fragment, sourceCount);
  fragment.querySelectorAll<HTMLAnchorElement>("a[href^='http']").forEach((a) => {
    a.target = "_blank";
    a.rel = "noopener noreferrer";
  });
  const holder = document.createElement("div");
  holder.append(fragment);
  return holder.innerHTML;
}
