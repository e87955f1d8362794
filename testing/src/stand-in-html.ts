// Telegram's HTML parse mode as the Bot API applies it (tdlib's parse_html, read for its rules and
// its error texts), for the Bot API stand-in and for tests that ask "would Telegram take this?".
// Ours and dependency-free on purpose: the stand-in also runs from a bare checkout with no
// node_modules (ops/docker/telegram-standin.ts), and a general HTML tokenizer is lenient exactly
// where Telegram is strict (an unknown tag, a stray "<", an end tag out of order).
//
// What Telegram does, and so this: tags b strong i em u ins s strike del span(class=tg-spoiler)
// tg-spoiler a(href) code pre blockquote(expandable) tg-emoji; end tags must close the innermost
// open tag; named entities &lt; &gt; &amp; &quot; and numeric ones are decoded, any other "&" is
// kept as text; offsets in error messages are UTF-8 byte offsets into the HTML.

export interface HtmlEntity {
  type: string
  /** UTF-16 units into the parsed text, as Telegram counts them. */
  offset: number
  length: number
  url?: string
  language?: string
}

export type HtmlParse =
  | { ok: true; text: string; entities: HtmlEntity[] }
  | { ok: false; error: string }

const TAG_TYPES: Record<string, string> = {
  b: "bold",
  strong: "bold",
  i: "italic",
  em: "italic",
  u: "underline",
  ins: "underline",
  s: "strikethrough",
  strike: "strikethrough",
  del: "strikethrough",
  "tg-spoiler": "spoiler",
  span: "spoiler",
  a: "text_link",
  code: "code",
  pre: "pre",
  blockquote: "blockquote",
  "tg-emoji": "custom_emoji",
}

const NAMED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"' }

const isSpace = (c: string | undefined) =>
  c === " " || c === "\n" || c === "\t" || c === "\r" || c === "\f"

/** The entity at `at` ("&amp;", "&#169;", "&#x1F600;"), or undefined when it is none of ours. */
function decodeEntity(html: string, at: number): { char: string; end: number } | undefined {
  const match = /^&(?:(lt|gt|amp|quot)|#(\d{1,8})|#[xX]([0-9a-fA-F]{1,7}));/.exec(
    html.slice(at, at + 12),
  )
  if (!match) return undefined
  if (match[1]) return { char: NAMED[match[1]] as string, end: at + match[0].length }
  const code = match[2] ? Number(match[2]) : Number.parseInt(match[3] as string, 16)
  if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return undefined
  return { char: String.fromCodePoint(code), end: at + match[0].length }
}

const decodeAll = (value: string) => {
  let out = ""
  for (let i = 0; i < value.length; ) {
    const entity = value[i] === "&" ? decodeEntity(value, i) : undefined
    out += entity ? entity.char : value[i]
    i = entity ? entity.end : i + 1
  }
  return out
}

interface Open {
  tag: string
  start: number
  attributes: Map<string, string>
}

/** Parses `<name attr="v" flag>` starting at `at`; an error text, or the tag and where it ends. */
function startTag(
  html: string,
  at: number,
  byteAt: (i: number) => number,
): { error: string } | { tag: string; attributes: Map<string, string>; end: number } {
  let i = at + 1
  while (i < html.length && !isSpace(html[i]) && html[i] !== ">") i++
  if (i >= html.length) return { error: `Unclosed start tag at byte offset ${byteAt(at)}` }
  const tag = html.slice(at + 1, i).toLowerCase()
  if (!(tag in TAG_TYPES))
    return { error: `Unsupported start tag "${tag}" at byte offset ${byteAt(at)}` }
  const attributes = new Map<string, string>()
  for (;;) {
    while (i < html.length && isSpace(html[i])) i++
    if (i >= html.length) return { error: `Unclosed start tag at byte offset ${byteAt(at)}` }
    if (html[i] === ">") break
    const nameStart = i
    while (i < html.length && !isSpace(html[i]) && html[i] !== "=" && html[i] !== ">") i++
    const name = html.slice(nameStart, i).toLowerCase()
    if (!name)
      return { error: `Empty attribute name in the tag "${tag}" at byte offset ${byteAt(at)}` }
    while (i < html.length && isSpace(html[i])) i++
    if (html[i] !== "=") {
      if (tag === "blockquote" && name === "expandable") {
        attributes.set(name, "")
        continue
      }
      return {
        error: `Expected equal sign in declaration of an attribute of the tag "${tag}" at byte offset ${byteAt(at)}`,
      }
    }
    i++
    while (i < html.length && isSpace(html[i])) i++
    let value: string
    const quote = html[i]
    if (quote === '"' || quote === "'") {
      const close = html.indexOf(quote, i + 1)
      if (close < 0) return { error: `Unclosed end of attribute value at byte offset ${byteAt(i)}` }
      value = html.slice(i + 1, close)
      i = close + 1
    } else {
      const valueStart = i
      while (i < html.length && !isSpace(html[i]) && html[i] !== ">") i++
      value = html.slice(valueStart, i)
    }
    attributes.set(name, decodeAll(value))
  }
  if (tag === "span" && attributes.get("class") !== "tg-spoiler")
    return { error: `Tag "span" must have class "tg-spoiler" at byte offset ${byteAt(at)}` }
  return { tag, attributes, end: i + 1 }
}

function entityOf(open: Open, end: number, inner: HtmlEntity[]): HtmlEntity | undefined {
  const type = TAG_TYPES[open.tag] as string
  const base = { offset: open.start, length: end - open.start }
  if (base.length === 0) return undefined
  if (open.tag === "a") {
    const url = open.attributes.get("href")
    return url ? { type, ...base, url } : undefined
  }
  if (open.tag === "pre") {
    // <pre><code class="language-x">…</code></pre>: one pre entity with its language.
    const code = inner.find((e) => e.type === "code" && e.offset === open.start)
    const language = code?.language
    return language ? { type, ...base, language } : { type, ...base }
  }
  if (open.tag === "code") {
    const language = /^language-(.+)$/.exec(open.attributes.get("class") ?? "")?.[1]
    return language ? { type, ...base, language } : { type, ...base }
  }
  if (open.tag === "blockquote" && open.attributes.has("expandable"))
    return { type: "expandable_blockquote", ...base }
  return { type, ...base }
}

/** Parses HTML as Telegram does, or answers with the description Telegram would give. */
export function parseTelegramHtml(html: string): HtmlParse {
  const encoder = new TextEncoder()
  const byteAt = (i: number) => encoder.encode(html.slice(0, i)).length
  const fail = (error: string): HtmlParse => ({ ok: false, error })
  let text = ""
  const stack: Open[] = []
  const entities: HtmlEntity[] = []
  for (let i = 0; i < html.length; ) {
    const c = html[i]
    if (c === "&") {
      const entity = decodeEntity(html, i)
      text += entity ? entity.char : "&"
      i = entity ? entity.end : i + 1
      continue
    }
    if (c !== "<") {
      text += c
      i++
      continue
    }
    if (html[i + 1] !== "/") {
      const parsed = startTag(html, i, byteAt)
      if ("error" in parsed) return fail(parsed.error)
      stack.push({ tag: parsed.tag, start: text.length, attributes: parsed.attributes })
      i = parsed.end
      continue
    }
    const close = html.indexOf(">", i)
    if (close < 0) return fail(`Unclosed end tag at byte offset ${byteAt(i)}`)
    const name = html
      .slice(i + 2, close)
      .trim()
      .toLowerCase()
    const open = stack.pop()
    if (!open) return fail(`Unexpected end tag at byte offset ${byteAt(i)}`)
    if (open.tag !== name)
      return fail(
        `Unmatched end tag at byte offset ${byteAt(i)}, expected "</${open.tag}>", found "</${name}>"`,
      )
    const entity = entityOf(open, text.length, entities)
    if (entity) {
      // The code entity inside a pre is folded into the pre's language.
      if (entity.type === "pre" && entity.language)
        entities.splice(
          entities.findIndex((e) => e.type === "code" && e.offset === entity.offset),
          1,
        )
      entities.push(entity)
    }
    i = close + 1
  }
  const unclosed = stack.pop()
  if (unclosed) return fail(`Can't find end tag corresponding to start tag "${unclosed.tag}"`)
  return { ok: true, text, entities: entities.sort((a, b) => a.offset - b.offset) }
}
