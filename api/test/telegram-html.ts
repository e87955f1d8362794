// A strict Telegram-like HTML parser, written apart from the API's validator (a character-by-
// character reading of tdlib's parse_html, narrowed to the subset our contract allows) so the
// property test compares two independent readings. It answers what Telegram would: the visible
// text and its entities, or the error ("can't parse entities: …"). Shared with the bot's
// stand-in tests: import { parseTelegramHtml } from "../../api/test/telegram-html".

export type ParsedHtml =
  | { ok: true; text: string; entities: { type: string; offset: number; length: number }[] }
  | { ok: false; error: string }

const SIMPLE: Record<string, string> = {
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
}
const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\n" || c === "\r"
const isNameChar = (c: string | undefined) => c !== undefined && /[A-Za-z0-9-]/.test(c)

function decodeEntity(s: string, i: number): { ch: string; next: number } | undefined {
  const end = s.indexOf(";", i)
  if (end < 0 || end - i > 10) return undefined
  const body = s.slice(i + 1, end)
  const named: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"' }
  if (named[body]) return { ch: named[body], next: end + 1 }
  let code = Number.NaN
  if (/^#[0-9]+$/.test(body)) code = Number.parseInt(body.slice(1), 10)
  if (/^#[xX][0-9a-fA-F]+$/.test(body)) code = Number.parseInt(body.slice(2), 16)
  if (!(code > 0 && code <= 0x10ffff) || (code >= 0xd800 && code <= 0xdfff)) return undefined
  return { ch: String.fromCodePoint(code), next: end + 1 }
}

function goodUrl(href: string) {
  if (/\s/.test(href) || [...href].some((c) => c.charCodeAt(0) < 0x20)) return false
  const scheme = /^([a-z]+):\/\/(.*)$/i.exec(href)
  if (!scheme) return false
  const kind = (scheme[1] as string).toLowerCase()
  if (kind === "tg") return (scheme[2] as string).length > 0 && href.startsWith("tg://")
  if (kind !== "http" && kind !== "https") return false
  try {
    return new URL(href).hostname.length > 0
  } catch {
    return false
  }
}

interface OpenTag {
  name: string
  attrs: Record<string, string | null>
  start: number
}

function readAttributes(s: string, i: number, name: string) {
  const attrs: Record<string, string | null> = {}
  for (;;) {
    while (isSpace(s[i])) i++
    if (s[i] === ">") return { attrs, next: i + 1 }
    if (i >= s.length) throw `Unclosed start tag ${name}`
    let key = ""
    while (i < s.length && !isSpace(s[i]) && s[i] !== "=" && s[i] !== ">" && s[i] !== "/")
      key += s[i++]
    if (!key) throw `Empty attribute name in the tag "${name}"`
    key = key.toLowerCase()
    if (key in attrs) throw `Duplicate attribute ${key}`
    while (isSpace(s[i])) i++
    if (s[i] !== "=") {
      attrs[key] = null
      continue
    }
    i++
    while (isSpace(s[i])) i++
    const quote = s[i]
    if (quote !== '"' && quote !== "'") throw `Unquoted attribute value in the tag "${name}"`
    i++
    let value = ""
    while (i < s.length && s[i] !== quote) {
      if (s[i] === "&") {
        const e = decodeEntity(s, i)
        if (!e) throw "Bad entity in an attribute"
        value += e.ch
        i = e.next
      } else value += s[i++]
    }
    if (i >= s.length) throw "Unclosed attribute value"
    attrs[key] = value
    i++
  }
}

function checkTag(tag: OpenTag, stack: OpenTag[]) {
  const { name, attrs } = tag
  const keys = Object.keys(attrs)
  const parent = stack.at(-1)?.name
  const names = stack.map((t) => t.name)
  if (names.includes("code")) throw `Tag "${name}" inside code`
  if (names.includes("pre") && !(name === "code" && parent === "pre"))
    throw `Tag "${name}" inside pre`
  if (SIMPLE[name] || name === "pre") {
    if (keys.length) throw `Unexpected attributes in "${name}"`
  } else if (name === "span") {
    if (keys.join() !== "class" || attrs.class !== "tg-spoiler") throw "Bad span"
  } else if (name === "a") {
    if (keys.join() !== "href" || !goodUrl(attrs.href ?? "")) throw "Bad link"
    if (names.includes("a")) throw "Nested links"
  } else if (name === "code") {
    if (keys.length && (keys.join() !== "class" || parent !== "pre")) throw "Bad code attributes"
    if (keys.length && !/^language-[A-Za-z0-9_+#.-]{1,32}$/.test(attrs.class ?? ""))
      throw "Bad language"
  } else if (name === "blockquote") {
    if (keys.length && (keys.join() !== "expandable" || attrs.expandable !== null))
      throw "Bad blockquote"
    if (names.includes("blockquote")) throw "Nested blockquote"
  } else throw `Unsupported start tag "${name}"`
}

/** What Telegram makes of `source` with parse_mode HTML (strict: our contract's subset). */
export function parseTelegramHtml(source: string, limit = 4096): ParsedHtml {
  let text = ""
  const stack: OpenTag[] = []
  const entities: { type: string; offset: number; length: number }[] = []
  try {
    if (!source.isWellFormed()) throw "Strings must be encoded in UTF-8"
    let i = 0
    while (i < source.length) {
      const c = source[i] as string
      if (c === "&") {
        const e = decodeEntity(source, i)
        if (!e) throw `Unsupported entity at ${i}`
        text += e.ch
        i = e.next
      } else if (c !== "<") {
        text += c
        i++
      } else if (source[i + 1] === "/") {
        let j = i + 2
        let name = ""
        while (isNameChar(source[j])) name += source[j++]
        while (isSpace(source[j])) j++
        if (!name || source[j] !== ">") throw "Bad end tag"
        const open = stack.pop()
        if (!open || open.name !== name.toLowerCase()) throw `Unmatched end tag "${name}"`
        const type = open.name === "a" ? "text_link" : (SIMPLE[open.name] ?? open.name)
        entities.push({ type, offset: open.start, length: text.length - open.start })
        i = j + 1
      } else {
        let j = i + 1
        let name = ""
        while (isNameChar(source[j])) name += source[j++]
        if (!name || !/^[A-Za-z]/.test(name) || !(isSpace(source[j]) || source[j] === ">"))
          throw `Unsupported start tag at ${i}`
        name = name.toLowerCase()
        const { attrs, next } = readAttributes(source, j, name)
        const tag = { name, attrs, start: text.length }
        checkTag(tag, stack)
        stack.push(tag)
        i = next
      }
    }
    if (stack.length) throw `Can't find end tag corresponding to start tag "${stack.at(-1)?.name}"`
    if (!/\S/.test(text)) throw "Message text is empty"
    if (text.length > limit) throw "Message is too long"
  } catch (error) {
    return { ok: false, error: `can't parse entities: ${String(error)}` }
  }
  return { ok: true, text, entities }
}
