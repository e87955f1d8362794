// Our own validator of Telegram's HTML subset. htmlparser2 does not fit: its tokenizer follows
// HTML5's forgiving rules where Telegram's parser is strict (it decodes legacy entities without a
// ";", takes "<1" and "< b" as text, accepts comments, unquoted attributes and <br/>), so every
// leniency would need undoing; a scanner of ~150 lines says exactly what Telegram accepts.
// The result is a list of atoms (each visible code point, each tag) that split.ts cuts into parts.

export type Atom =
  | { kind: "char"; raw: string; ch: string; units: number }
  | { kind: "open"; raw: string; name: string }
  | { kind: "close"; raw: string; name: string }

export class HtmlProblem extends Error {
  constructor(
    readonly offset: number,
    problem: string,
  ) {
    super(`Invalid HTML at character ${offset}: ${problem}`)
  }
}

const PLAIN = new Set(["b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "tg-spoiler"])
const SUPPORTED = [...PLAIN, "span", "a", "code", "pre", "blockquote"]
// Telegram's whitespace inside tags is ASCII only (a no-break space there is no separator).
const OPEN_TAG =
  /<([a-zA-Z][a-zA-Z0-9-]*)((?:[ \t\r\n]+[^ \t\r\n=>/]+(?:[ \t\r\n]*=[ \t\r\n]*(?:"[^"]*"|'[^']*'))?)*)[ \t\r\n]*>/y
const ATTRIBUTE = /[ \t\r\n]+([^ \t\r\n=>/]+)(?:[ \t\r\n]*=[ \t\r\n]*(?:"([^"]*)"|'([^']*)'))?/y
const CLOSE_TAG = /<\/([a-zA-Z][a-zA-Z0-9-]*)[ \t\r\n]*>/y
const ENTITY = /&(lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});/y
const NAMED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"' }
const LANGUAGE_CLASS = /^language-[A-Za-z0-9_+#.-]{1,32}$/

/** The character an entity at `at` stands for, with its source; a problem when it is not one. */
function entityAt(source: string, at: number): { ch: string; raw: string } {
  ENTITY.lastIndex = at
  const m = ENTITY.exec(source)
  if (!m)
    throw new HtmlProblem(
      at,
      "a & must start &lt; &gt; &amp; &quot; or a numeric entity (write a lone & as &amp;)",
    )
  const name = m[1] as string
  const named = NAMED[name]
  if (named) return { ch: named, raw: m[0] }
  const code =
    name[1] === "x" || name[1] === "X" ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1))
  if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
    throw new HtmlProblem(at, `${m[0]} is not a character`)
  return { ch: String.fromCodePoint(code), raw: m[0] }
}

/** Attribute values with their entities decoded. */
function attributesOf(source: string, from: number, to: number): Map<string, string | true> {
  const attributes = new Map<string, string | true>()
  ATTRIBUTE.lastIndex = from
  while (ATTRIBUTE.lastIndex < to) {
    const at = ATTRIBUTE.lastIndex
    const m = ATTRIBUTE.exec(source)
    if (!m || m.index !== at) break
    const name = (m[1] as string).toLowerCase()
    if (attributes.has(name)) throw new HtmlProblem(at, `the attribute ${name} is given twice`)
    const value = m[2] ?? m[3]
    if (value === undefined) {
      attributes.set(name, true)
      continue
    }
    const valueAt = m.index + m[0].length - value.length - 1
    let decoded = ""
    for (let i = 0; i < value.length; ) {
      if (value[i] !== "&") {
        decoded += value[i++]
        continue
      }
      const e = entityAt(source, valueAt + i)
      decoded += e.ch
      i += e.raw.length
    }
    attributes.set(name, decoded)
  }
  return attributes
}

function allowedUrl(href: string): boolean {
  if (href.length > 2048 || /\s/.test(href) || [...href].some((c) => c.charCodeAt(0) < 0x20))
    return false
  // WHATWG URL repairs "https:é//x" into https://é//x; Telegram does not: the "//" must be there.
  if (!/^(https?|tg):\/\//i.test(href)) return false
  try {
    const url = new URL(href)
    if (url.protocol === "tg:") return href.startsWith("tg://") && href.length > 5
    return (url.protocol === "https:" || url.protocol === "http:") && url.hostname !== ""
  } catch {
    return false
  }
}

/** Checks one opening tag's attributes and place; throws the first problem. */
function checkOpen(name: string, attrs: Map<string, string | true>, stack: string[], at: number) {
  const only = (...allowed: string[]) => {
    for (const key of attrs.keys())
      if (!allowed.includes(key)) throw new HtmlProblem(at, `<${name}> takes no attribute ${key}`)
  }
  const inside = (tag: string) => stack.includes(tag)
  if (inside("code") || (inside("pre") && !(name === "code" && stack.at(-1) === "pre")))
    throw new HtmlProblem(at, `<${name}> cannot go inside <${inside("code") ? "code" : "pre"}>`)
  if (PLAIN.has(name) || name === "pre") only()
  else if (name === "span") {
    only("class")
    if (attrs.get("class") !== "tg-spoiler")
      throw new HtmlProblem(at, '<span> needs class="tg-spoiler"')
  } else if (name === "a") {
    only("href")
    const href = attrs.get("href")
    if (typeof href !== "string" || !allowedUrl(href))
      throw new HtmlProblem(at, "<a> needs href with an http, https or tg URL")
    if (inside("a")) throw new HtmlProblem(at, "<a> cannot go inside <a>")
  } else if (name === "code") {
    only("class")
    const cls = attrs.get("class")
    if (
      cls !== undefined &&
      (stack.at(-1) !== "pre" || typeof cls !== "string" || !LANGUAGE_CLASS.test(cls))
    )
      throw new HtmlProblem(at, '<code> takes only class="language-…", and only inside <pre>')
  } else if (name === "blockquote") {
    only("expandable")
    if (attrs.get("expandable") !== undefined && attrs.get("expandable") !== true)
      throw new HtmlProblem(at, "expandable takes no value")
    if (inside("blockquote")) throw new HtmlProblem(at, "<blockquote> cannot go inside another")
  }
}

/** The atoms of a Telegram HTML text; throws HtmlProblem at the first thing Telegram would refuse. */
export function parseHtml(source: string): Atom[] {
  const atoms: Atom[] = []
  const stack: { name: string; at: number }[] = []
  for (let i = 0; i < source.length; ) {
    const c = source[i]
    if (c === "<" && source[i + 1] === "/") {
      CLOSE_TAG.lastIndex = i
      const m = CLOSE_TAG.exec(source)
      if (!m) throw new HtmlProblem(i, "a malformed end tag (write a lone < as &lt;)")
      const name = (m[1] as string).toLowerCase()
      const open = stack.pop()
      if (!open) throw new HtmlProblem(i, `</${name}> closes nothing`)
      if (open.name !== name)
        throw new HtmlProblem(i, `</${name}> where </${open.name}> was expected`)
      atoms.push({ kind: "close", raw: m[0], name })
      i += m[0].length
    } else if (c === "<") {
      OPEN_TAG.lastIndex = i
      const m = OPEN_TAG.exec(source)
      if (!m) throw new HtmlProblem(i, "a < that starts no tag (write a lone < as &lt;)")
      const name = (m[1] as string).toLowerCase()
      if (!SUPPORTED.includes(name))
        throw new HtmlProblem(i, `<${name}> is not a tag Telegram supports`)
      const attrs = attributesOf(source, i + 1 + name.length, i + m[0].length - 1)
      checkOpen(
        name,
        attrs,
        stack.map((s) => s.name),
        i,
      )
      stack.push({ name, at: i })
      atoms.push({ kind: "open", raw: m[0], name })
      i += m[0].length
    } else if (c === "&") {
      const { ch, raw } = entityAt(source, i)
      atoms.push({ kind: "char", raw, ch, units: ch.length })
      i += raw.length
    } else {
      const ch = String.fromCodePoint(source.codePointAt(i) as number)
      atoms.push({ kind: "char", raw: ch, ch, units: ch.length })
      i += ch.length
    }
  }
  const unclosed = stack.pop()
  if (unclosed) throw new HtmlProblem(unclosed.at, `<${unclosed.name}> is never closed`)
  return atoms
}

/** Plain text as atoms: each code point, no tags. */
export const textAtoms = (text: string): Atom[] =>
  Array.from(text, (ch) => ({ kind: "char" as const, raw: ch, ch, units: ch.length }))
