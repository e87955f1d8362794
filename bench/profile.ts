// Summarises a `bun --cpu-prof` profile (Chrome .cpuprofile) by sample counts, which — unlike the
// time weights, that also count the idle wait after a sample — say where the CPU went.
// Prints the hottest functions (self), the share of each package (a native frame counts for the
// nearest caller with a source file), and the inclusive share of a few frames worth watching.
// Usage: bun bench/profile.ts <file.cpuprofile> [top=25]
import { relative } from "node:path"

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: Node[]
  samples: number[]
}

const [file, topArg] = process.argv.slice(2)
if (!file) throw new Error("usage: bun bench/profile.ts <file.cpuprofile> [top]")
const profile = (await Bun.file(file).json()) as Profile
const root = `${import.meta.dir}/..`

const parent = new Map<number, number>()
const byId = new Map<number, Node>()
for (const node of profile.nodes) {
  byId.set(node.id, node)
  for (const child of node.children ?? []) parent.set(child, node.id)
}

const packageOf = (url: string) => {
  if (!url || url === "[native code]") return undefined
  const bare = url.replace(/^file:\/\//, "")
  const path = bare.startsWith("/") ? relative(root, bare) : bare
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1]
  return (
    pkg ??
    (path.startsWith("node:") || path.startsWith("internal:")
      ? "bun runtime (node:*)"
      : path.split("/").slice(0, 2).join("/"))
  )
}
const label = (n: Node) =>
  `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url ? `${relative(root, n.callFrame.url.replace(/^file:\/\//, ""))}:${n.callFrame.lineNumber + 1}` : ""}`

const stack = (id: number) => {
  const frames: Node[] = []
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const node = byId.get(at)
    if (node) frames.push(node)
  }
  return frames // innermost first
}

const self = new Map<string, number>()
const packages = new Map<string, number>()
const inclusive = new Map<string, number>()
const WATCH = [
  ["Elysia request handling", /node_modules\/elysia\//],
  ["TypeBox (validation, encode)", /@sinclair\/typebox/],
  ["Drizzle", /drizzle-orm/],
  ["postgres.js", /node_modules\/postgres\//],
  ["the logger", /\/log\/src\//],
] as const
let total = 0
for (const id of profile.samples) {
  const frames = stack(id)
  const leaf = frames[0]
  if (
    !leaf ||
    (["(root)", "(program)", "(idle)", "(garbage collector)"].includes(
      leaf.callFrame.functionName,
    ) &&
      frames.length <= 2)
  ) {
    if (leaf?.callFrame.functionName === "(garbage collector)") {
      total++
      self.set("(garbage collector)", (self.get("(garbage collector)") ?? 0) + 1)
      packages.set("(garbage collector)", (packages.get("(garbage collector)") ?? 0) + 1)
    }
    continue
  }
  total++
  self.set(label(leaf), (self.get(label(leaf)) ?? 0) + 1)
  const owner = frames.map((f) => packageOf(f.callFrame.url)).find(Boolean) ?? "(native, no caller)"
  packages.set(owner, (packages.get(owner) ?? 0) + 1)
  for (const [name, pattern] of WATCH)
    if (frames.some((f) => pattern.test(f.callFrame.url)))
      inclusive.set(name, (inclusive.get(name) ?? 0) + 1)
}

const pct = (n: number) => `${((100 * n) / total).toFixed(1).padStart(5)}%`
const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n)
console.log(`${total} busy samples\n\nself, by function:`)
for (const [name, n] of top(self, Number(topArg ?? 25))) console.log(`${pct(n)}  ${name}`)
console.log("\nself, by package (native frames count for their caller):")
for (const [name, n] of top(packages, 15)) console.log(`${pct(n)}  ${name}`)
console.log("\ninclusive (a sample counts when the frame is anywhere on the stack):")
for (const [name] of WATCH) console.log(`${pct(inclusive.get(name) ?? 0)}  ${name}`)
