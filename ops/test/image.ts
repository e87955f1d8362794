// The Dockerfiles without Docker: parse them with dockerfile-ast (the parser behind the VS Code
// Docker extension) and "build" an image into a directory by carrying out its instructions —
// COPY from the build context (honouring .dockerignore) or from an earlier stage, and the
// `bun install` RUN step for real. Running the image's CMD in that directory then shows whether
// the files the image holds are enough to run it. Deliberately small: an instruction it does not
// know fails the build, so a Dockerfile cannot quietly grow past what these tests check.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { basename, dirname, join, posix, relative } from "node:path"
import { DockerfileParser, type Instruction } from "dockerfile-ast"

export interface Copy {
  sources: string[]
  dest: string
  from: string | undefined
}

export interface Stage {
  name: string | undefined
  image: string
  workdir: string
  env: Record<string, string>
  user: string | undefined
  copies: Copy[]
  runs: string[]
  cmd: string[] | undefined
  healthcheck: { cmd: string[]; options: Record<string, string> } | undefined
  expose: string[]
  /** Instructions in order, for the builder. */
  steps: Instruction[]
}

export interface Dockerfile {
  path: string
  text: string
  stages: Stage[]
  /** The stage the image is made of. */
  final: Stage
}

const SUPPORTED = new Set([
  "FROM",
  "WORKDIR",
  "ENV",
  "COPY",
  "RUN",
  "USER",
  "EXPOSE",
  "HEALTHCHECK",
  "CMD",
])

/** Exec form (a JSON array) or undefined for shell form. */
function execForm(text: string): string[] | undefined {
  const trimmed = text.trim()
  if (!trimmed.startsWith("[")) return undefined
  const parsed: unknown = JSON.parse(trimmed)
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === "string"))
    throw new Error(`not an exec-form command: ${trimmed}`)
  return parsed
}

function flagsOf(instruction: Instruction): Record<string, string> {
  const flags = (
    instruction as unknown as {
      getFlags?: () => { getName(): string; getValue(): string | null }[]
    }
  ).getFlags?.()
  return Object.fromEntries((flags ?? []).map((f) => [f.getName(), f.getValue() ?? ""]))
}

/** The text after the flags, as written (continuations joined). */
function argumentText(instruction: Instruction): string {
  const args = instruction.getArguments()
  const first = args.find((a) => !a.getValue().startsWith("--"))
  const content = instruction.getArgumentsContent() ?? ""
  if (!first) return ""
  return content.slice(content.indexOf(first.getValue())).trim()
}

export function readDockerfile(path: string): Dockerfile {
  const text = readFileSync(path, "utf8")
  const stages: Stage[] = []
  let stage: Stage | undefined
  for (const instruction of DockerfileParser.parse(text).getInstructions()) {
    const keyword = instruction.getKeyword()
    if (!SUPPORTED.has(keyword))
      throw new Error(`${path}: ${keyword} is not supported by ops/test/image.ts; teach it first`)
    const args = instruction.getArguments().map((a) => a.getValue())
    if (keyword === "FROM") {
      const [image = "", as, name] = args
      const base = stages.find((s) => s.name === image)
      stage = {
        name: as?.toUpperCase() === "AS" ? name : undefined,
        image,
        workdir: base?.workdir ?? "/home/bun/app", // oven/bun's own WORKDIR
        env: { ...base?.env },
        user: base?.user,
        copies: [],
        runs: [],
        cmd: undefined,
        healthcheck: undefined,
        expose: [],
        steps: [],
      }
      stages.push(stage)
      continue
    }
    if (!stage) throw new Error(`${path}: ${keyword} before FROM`)
    stage.steps.push(instruction)
    switch (keyword) {
      case "WORKDIR":
        stage.workdir = posix.resolve(stage.workdir, args[0] ?? "")
        break
      case "ENV":
        for (const property of (
          instruction as unknown as {
            getProperties(): { getName(): string; getValue(): string | null }[]
          }
        ).getProperties())
          stage.env[property.getName()] = property.getValue() ?? ""
        break
      case "COPY": {
        const flags = flagsOf(instruction)
        const paths = args.filter((a) => !a.startsWith("--"))
        const dest = paths.pop()
        if (!dest || paths.length === 0) throw new Error(`${path}: COPY needs a source and a dest`)
        stage.copies.push({ sources: paths, dest, from: flags.from })
        break
      }
      case "RUN":
        stage.runs.push(argumentText(instruction))
        break
      case "USER":
        stage.user = args[0]
        break
      case "EXPOSE":
        stage.expose.push(...args)
        break
      case "CMD": {
        const cmd = execForm(argumentText(instruction))
        if (!cmd) throw new Error(`${path}: CMD must be exec form (JSON array)`)
        stage.cmd = cmd
        break
      }
      case "HEALTHCHECK": {
        const text = argumentText(instruction)
        if (!text.startsWith("CMD")) throw new Error(`${path}: HEALTHCHECK must be CMD […]`)
        const cmd = execForm(text.slice(3))
        if (!cmd) throw new Error(`${path}: HEALTHCHECK CMD must be exec form (JSON array)`)
        stage.healthcheck = { cmd, options: flagsOf(instruction) }
        break
      }
    }
  }
  const final = stages.at(-1)
  if (!final) throw new Error(`${path}: no FROM`)
  return { path, text, stages, final }
}

/** .dockerignore as Docker reads it: later lines win, `!` re-includes, a match covers a subtree. */
export function dockerIgnore(context: string): (relativePath: string) => boolean {
  const file = join(context, ".dockerignore")
  const rules = existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line && !line.startsWith("#"))
        .map((line) => {
          const negate = line.startsWith("!")
          const pattern = posix.normalize(line.slice(negate ? 1 : 0).replace(/^\/+/, ""))
          return { negate, glob: new Bun.Glob(pattern.replace(/\/+$/, "")) }
        })
    : []
  return (path) => {
    const parts = path.split("/")
    let ignored = false
    for (const rule of rules) {
      for (let i = 1; i <= parts.length; i++) {
        if (rule.glob.match(parts.slice(0, i).join("/"))) {
          ignored = !rule.negate
          break
        }
      }
    }
    return ignored
  }
}

export interface BuiltImage {
  dockerfile: Dockerfile
  /** Directory standing for the image's `/`. */
  root: string
  /** The container's working directory on this machine. */
  workdir: string
  /** Maps a path inside the container to this machine. */
  path(containerPath: string): string
  /** Every file in the image below the working directory, relative to it. */
  files(): string[]
}

/** Stages already built, keyed by their inputs (what Docker's layer cache would reuse). */
export type BuildCache = Map<string, string>

export interface BuildOptions {
  context: string
  /** Scratch directory the stages are built in. */
  into: string
  cache?: BuildCache
}

function listFiles(dir: string, base = dir): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...listFiles(full, base))
    else out.push(relative(base, full))
  }
  return out
}

function copyFromContext(
  context: string,
  ignored: (p: string) => boolean,
  src: string,
  to: string,
) {
  const rel = posix.normalize(src).replace(/^\/+/, "")
  const from = join(context, rel)
  if (rel.startsWith("..") || ignored(rel) || !existsSync(from))
    throw new Error(`COPY ${src}: not found in the build context (or excluded by .dockerignore)`)
  cpSync(from, to, {
    recursive: true,
    filter: (path) => {
      const inContext = relative(context, path)
      return inContext === "" || !ignored(inContext.split("\\").join("/"))
    },
  })
}

async function runStep(command: string, cwd: string, env: Record<string, string>) {
  const argv = command.split(/\s+/)
  if (argv[0] === "rm" && argv[1] === "-rf") {
    // Only paths inside the working directory, which is all a deps stage ever prunes.
    for (const path of argv.slice(2)) {
      if (path.startsWith("/") || path.split("/").includes(".."))
        throw new Error(`RUN ${command}: only relative paths inside WORKDIR can be simulated`)
      rmSync(join(cwd, path), { recursive: true, force: true })
    }
    return
  }
  // Anything else would run on this machine with container paths: refuse rather than guess.
  if (argv[0] !== "bun" || argv[1] !== "install")
    throw new Error(
      `RUN ${command}: only \`bun install …\` and \`rm -rf <relative paths>\` can be simulated`,
    )
  const proc = Bun.spawn(argv, {
    cwd,
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
  })
  const [code, out, err] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ])
  if (code !== 0) throw new Error(`RUN ${command} failed (${code}):\n${out}${err}`)
}

/** Carries out the Dockerfile's stages into `into`, as `docker build` would into layers. */
export async function buildImage(
  dockerfile: Dockerfile,
  options: BuildOptions,
): Promise<BuiltImage> {
  const { context, into, cache = new Map() } = options
  const ignored = dockerIgnore(context)
  const roots = new Map<Stage, string>()
  for (const [index, stage] of dockerfile.stages.entries()) {
    // A stage's inputs: its instructions and the context files it copies.
    const key = [
      stage.image,
      ...stage.steps.map((s) => s.toString()),
      ...stage.copies
        .filter((c) => !c.from)
        .flatMap((c) => c.sources)
        .map((s) => {
          const full = join(context, s)
          return statSync(full).isFile() ? Bun.hash(readFileSync(full)).toString() : s
        }),
    ].join("\n")
    const cached = stage.copies.some((c) => c.from) ? undefined : cache.get(key)
    if (cached) {
      roots.set(stage, cached)
      continue
    }
    const root = join(into, `${basename(dirname(dockerfile.path))}-stage-${index}`)
    mkdirSync(root, { recursive: true })
    const local = (p: string) => join(root, p)
    let workdir = "/home/bun/app"
    const env: Record<string, string> = {}
    mkdirSync(local(workdir), { recursive: true })
    let copyIndex = 0
    let runIndex = 0
    for (const step of stage.steps) {
      switch (step.getKeyword()) {
        case "WORKDIR":
          workdir = posix.resolve(workdir, step.getArguments()[0]?.getValue() ?? "")
          mkdirSync(local(workdir), { recursive: true })
          break
        case "ENV":
          Object.assign(env, stage.env)
          break
        case "COPY": {
          const copy = stage.copies[copyIndex++] as Copy
          const dest = posix.resolve(workdir, copy.dest)
          const intoDir = copy.dest.endsWith("/") || copy.sources.length > 1
          for (const src of copy.sources) {
            let from = join(context, src)
            if (copy.from) {
              const source = dockerfile.stages.find((s) => s.name === copy.from)
              const sourceRoot = source && roots.get(source)
              if (!sourceRoot) throw new Error(`COPY --from=${copy.from}: no such earlier stage`)
              from = join(sourceRoot, src)
              if (!existsSync(from)) throw new Error(`COPY --from=${copy.from} ${src}: not found`)
            }
            // A directory's contents land in dest; a file lands in dest, or in it when dest is a
            // directory (trailing slash or several sources).
            const isDir = existsSync(from) && statSync(from).isDirectory()
            const target = local(intoDir && !isDir ? posix.join(dest, posix.basename(src)) : dest)
            mkdirSync(isDir ? target : dirname(target), { recursive: true })
            if (copy.from) {
              // Hard links: an image's files are not written to, and this is much faster.
              const proc = Bun.spawnSync(["cp", "-al", isDir ? `${from}/.` : from, target])
              if (proc.exitCode !== 0) throw new Error(`COPY --from: ${proc.stderr.toString()}`)
            } else copyFromContext(context, ignored, src, target)
          }
          break
        }
        case "RUN":
          await runStep(stage.runs[runIndex++] as string, local(workdir), env)
          break
      }
    }
    roots.set(stage, root)
    if (!stage.copies.some((c) => c.from)) cache.set(key, root)
  }
  const root = roots.get(dockerfile.final) as string
  const workdir = join(root, dockerfile.final.workdir)
  return {
    dockerfile,
    root,
    workdir,
    path: (containerPath) => join(root, containerPath),
    files: () => listFiles(workdir).filter((f) => !f.startsWith(`node_modules${"/"}`)),
  }
}
