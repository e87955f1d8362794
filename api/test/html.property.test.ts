// The HTML validator against an independent strict Telegram-like parser (telegram-html.ts), on
// 10,000 random HTML-ish texts: every text the API accepts, Telegram's parser accepts too (never
// an accepted notification that meets "can't parse entities"), and every part of a split text is
// balanced and accepted on its own, losing nothing visible.
import { expect, test } from "bun:test"
import fc from "fast-check"
import { ApiError } from "../src/errors"
import { messagesOf } from "../src/modules/notifications/compose"
import { parseHtml } from "../src/modules/notifications/html"
import { splitAtoms } from "../src/modules/notifications/split"
import { parseTelegramHtml } from "./telegram-html"

const TOKENS = [
  ...[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "tg-spoiler",
    "pre",
    "code",
  ].flatMap((t) => [`<${t}>`, `</${t}>`]),
  "<blockquote>",
  "<blockquote expandable>",
  "</blockquote>",
  '<blockquote expandable="1">',
  '<span class="tg-spoiler">',
  "<span>",
  "</span>",
  '<span class="x">',
  '<a href="https://example.com/a?b=1&amp;c=2">',
  '<a href="http://x.io">',
  "<a href='tg://resolve?domain=nps'>",
  '<a href="javascript:alert(1)">',
  '<a href="https://x.io?a=1&b=2">',
  "<a>",
  '<a href="">',
  "</a>",
  '<code class="language-ts">',
  '<code class="x">',
  '<pre><code class="language-js">',
  "<br>",
  "<br/>",
  "<b/>",
  "<div>",
  "</div>",
  "<!-- c -->",
  "<B>",
  "</B>",
  "<b >",
  "< b>",
  "</ b>",
  '<b class="x">',
  '<a href="https://x.io" href="https://y.io">',
  "<a href=https://x.io>",
  "&amp;",
  "&lt;",
  "&gt;",
  "&quot;",
  "&#65;",
  "&#x1F600;",
  "&#0;",
  "&#xD800;",
  "&nbsp;",
  "&amp",
  "&",
  "<",
  ">",
  '"',
  "'",
  "=",
  " ",
  "\n",
  "\n\n",
  "\t",
  "\u00a0",
  "é",
  "😀",
  "\ud83d",
  "text",
  "Reading ready",
  "x".repeat(40),
]

const htmlish = fc
  .array(
    fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...TOKENS) }, fc.string({ maxLength: 4 })),
    {
      maxLength: 24,
    },
  )
  .map((parts) => parts.join(""))

const PAIRS: [string, string][] = [
  ["<b>", "</b>"],
  ["<strong>", "</strong>"],
  ["<i>", "</i>"],
  ["<u>", "</u>"],
  ["<s>", "</s>"],
  ["<tg-spoiler>", "</tg-spoiler>"],
  ['<span class="tg-spoiler">', "</span>"],
  ['<a href="https://example.com/x?a=1&amp;b=2">', "</a>"],
  ["<code>", "</code>"],
  ["<pre>", "</pre>"],
  ['<pre><code class="language-ts">', "</code></pre>"],
  ["<blockquote>", "</blockquote>"],
  ["<blockquote expandable>", "</blockquote>"],
]
const LEAVES = [
  "text",
  "Reading ready",
  " ",
  "\n",
  "\n\n",
  "&amp;",
  "&lt;b&gt;",
  "😀",
  "é",
  "&#65;",
  "a b c",
]

/** Mostly well-formed trees, so that many inputs are accepted and the comparison means much. */
const { node: tree } = fc.letrec<{ node: string; element: string }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom(...LEAVES),
    fc.string({ maxLength: 3 }),
    tie("element"),
  ),
  element: fc
    .tuple(fc.constantFrom(...PAIRS), fc.array(tie("node"), { maxLength: 4 }))
    .map(([[open, close], kids]) => open + kids.join("") + close),
}))
const mutated = fc.tuple(tree, fc.constantFrom(...TOKENS), fc.nat()).map(([source, token, at]) => {
  const cut = at % (source.length + 1)
  return source.slice(0, cut) + token + source.slice(cut)
})
const inputs = fc.oneof(
  htmlish,
  fc.array(tree, { minLength: 1, maxLength: 4 }).map((t) => t.join("")),
  mutated,
)

const validate = (source: string) => {
  try {
    return messagesOf("text", source, { format: "html" })
  } catch (error) {
    // Refused, as a 422 with the envelope the API answers: nothing else is allowed to escape.
    expect(error).toBeInstanceOf(ApiError)
    expect((error as ApiError).status).toBe(422)
    return undefined
  }
}

test("10,000 random HTML-ish texts: a 422, or accepted by the strict Telegram-like parser", () => {
  let accepted = 0
  fc.assert(
    fc.property(inputs, (source) => {
      const messages = validate(source)
      if (!messages) return
      accepted++
      const telegram = parseTelegramHtml(source)
      expect({ source, telegram: telegram.ok || telegram.error }).toEqual({
        source,
        telegram: true,
      })
    }),
    { numRuns: 10_000 },
  )
  // Not a vacuous pass: a fair share of the inputs was accepted and checked.
  expect(accepted).toBeGreaterThan(2_000)
})

test("split parts of accepted texts are each balanced, accepted, within the limit, and lose nothing", () => {
  fc.assert(
    fc.property(inputs, fc.integer({ min: 4, max: 40 }), (source, limit) => {
      if (!validate(source)) return
      const parts = splitAtoms(parseHtml(source), limit)
      const texts = parts.map((part) => {
        const parsed = parseTelegramHtml(part, limit)
        expect({ part, parsed: parsed.ok || parsed.error }).toEqual({ part, parsed: true })
        return parsed.ok ? parsed.text : ""
      })
      const whole = parseTelegramHtml(source)
      const squeeze = (s: string) => s.replace(/\s/g, "")
      expect(squeeze(texts.join(""))).toBe(squeeze(whole.ok ? whole.text : ""))
    }),
    { numRuns: 3_000 },
  )
})

test("the first problem and its character offset are named", () => {
  const problem = (source: string) => {
    try {
      messagesOf("text", source, { format: "html" })
    } catch (error) {
      return [(error as ApiError).code, (error as ApiError).message]
    }
    return undefined
  }
  expect(problem("Hello <div>world</div>")).toEqual([
    "invalid_html",
    "text: Invalid HTML at character 6: <div> is not a tag Telegram supports",
  ])
  expect(problem("<b>bold <i>both</b></i>")?.[1]).toBe(
    "text: Invalid HTML at character 15: </b> where </i> was expected",
  )
  expect(problem("a < b")?.[1]).toContain("at character 2: a < that starts no tag")
  expect(problem("Fish & chips")?.[1]).toContain("at character 5")
  expect(problem("<b>never closed")?.[1]).toContain("at character 0: <b> is never closed")
  expect(problem('<a href="javascript:alert(1)">x</a>')?.[1]).toContain("http, https or tg")
  expect(problem("<b>fine</b> &amp; <i>dandy</i>")).toBeUndefined()
})
