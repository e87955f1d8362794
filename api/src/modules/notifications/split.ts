// Cutting a long text into messages Telegram takes (each at most 4,096 UTF-16 units of visible
// text): at the last blank line before the limit, else the last line break, else the last space,
// else a hard cut (never inside a character). Tags open at a cut are closed at the end of one part
// and reopened at the start of the next, so every part is balanced HTML on its own.
import type { Atom } from "./html"

export const PART_LIMIT = 4096

type Open = Extract<Atom, { kind: "open" }>

const visible = (atoms: Atom[], from: number, to: number) => {
  let text = ""
  for (let k = from; k < to; k++) {
    const a = atoms[k] as Atom
    if (a.kind === "char") text += a.ch
  }
  return text
}

/** Where the part starting at `from` ends: the best cut at or before the limit. */
function cutAfter(atoms: Atom[], from: number, limit: number): number {
  let units = 0
  let previous = ""
  const cuts = { blank: -1, line: -1, space: -1 }
  let j = from
  for (; j < atoms.length; j++) {
    const a = atoms[j] as Atom
    if (a.kind !== "char") continue
    if (units + a.units > limit) break
    units += a.units
    if (a.ch === "\n") cuts[previous === "\n" ? "blank" : "line"] = j + 1
    else if (/\s/.test(a.ch)) cuts.space = j + 1
    previous = a.ch
  }
  if (j >= atoms.length) return atoms.length
  // A cut that leaves this part without a visible character is no cut: try the next kind.
  for (const cut of [cuts.blank, cuts.line, cuts.space])
    if (cut > from && /\S/.test(visible(atoms, from, cut))) return cut
  return j
}

/** The parts, each as the source text to send. Parts with nothing visible are left out. */
export function splitAtoms(atoms: Atom[], limit = PART_LIMIT): string[] {
  const parts: string[] = []
  let open: Open[] = []
  for (let i = 0; i < atoms.length; ) {
    let end = cutAfter(atoms, i, limit)
    // End tags right after the cut close in this part rather than open empty in the next.
    while (end < atoms.length && atoms[end]?.kind === "close") end++
    let text = open.map((o) => o.raw).join("")
    for (let k = i; k < end; k++) {
      const a = atoms[k] as Atom
      text += a.raw
      if (a.kind === "open") open.push(a)
      if (a.kind === "close") open = open.slice(0, -1)
    }
    text += open
      .map((o) => `</${o.name}>`)
      .reverse()
      .join("")
    if (/\S/.test(visible(atoms, i, end))) parts.push(text)
    i = end
  }
  return parts
}

/** Visible length as Telegram counts it: UTF-16 units after tags and entities are resolved. */
export const visibleUnits = (atoms: Atom[]) =>
  atoms.reduce((n, a) => n + (a.kind === "char" ? a.units : 0), 0)
