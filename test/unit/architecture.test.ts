// STYLE.md §3.1: src/protocol and src/core (and src/errors.ts) use no Node, Deno or DOM API, and
// dependencies point one way (protocol ← core). Parsed with the TypeScript compiler, so comments and
// strings never count; every finding names its file and line.
import { builtinModules } from "node:module";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, posix, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const SRC = join(ROOT, "src");

/** Globals of one runtime; portable code must reach none of them (nor sniff for them with `typeof`). */
const RUNTIME_GLOBALS: Readonly<Record<string, string>> = {
  Deno: "Deno",
  Bun: "Bun",
  process: "Node",
  Buffer: "Node",
  require: "Node",
  module: "Node",
  __dirname: "Node",
  __filename: "Node",
  global: "Node",
  setImmediate: "Node",
  clearImmediate: "Node",
  NodeJS: "Node",
  document: "DOM",
  window: "DOM",
  navigator: "DOM",
  location: "DOM",
  localStorage: "DOM",
  sessionStorage: "DOM",
  XMLHttpRequest: "DOM",
};

const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

type Layer = "protocol" | "core" | "errors";

/** What a file of each layer may import, as paths relative to src/. */
function mayImport(layer: Layer, target: string): boolean {
  if (target === "errors.ts") return layer !== "errors";
  if (target.startsWith("protocol/")) return layer === "protocol" || layer === "core";
  if (target.startsWith("core/")) return layer === "core";
  return false;
}

function layerOf(srcPath: string): Layer {
  if (srcPath === "errors.ts") return "errors";
  if (srcPath.startsWith("protocol/")) return "protocol";
  if (srcPath.startsWith("core/")) return "core";
  throw new Error(`not a portable file: ${srcPath}`);
}

/** Scans one file's source; `srcPath` is relative to src/ (e.g. "core/client.ts"). Returns "file:line: problem" strings. */
function scanSource(srcPath: string, text: string): string[] {
  const layer = layerOf(srcPath);
  const label = `src/${srcPath}`;
  const sf = ts.createSourceFile(srcPath, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const at = (pos: number, problem: string): void => {
    found.push(`${label}:${sf.getLineAndCharacterOfPosition(pos).line + 1}: ${problem}`);
  };

  for (const ref of sf.typeReferenceDirectives) at(ref.pos, `references types "${ref.fileName}"`);
  for (const ref of sf.libReferenceDirectives) at(ref.pos, `references lib "${ref.fileName}"`);

  const checkSpecifier = (spec: string, pos: number): void => {
    if (spec.startsWith(".")) {
      const fromRoot = posix.normalize(posix.join("src", posix.dirname(srcPath), spec));
      const ok = fromRoot.startsWith("src/") && mayImport(layer, fromRoot.slice(4));
      if (!ok) at(pos, `imports "${spec}" (${fromRoot}): ${layer}/ may not depend on it`);
      return;
    }
    const kind = NODE_BUILTINS.has(spec) || spec.startsWith("node:") ? "a Node built-in" : spec === "ws" || spec.startsWith("ws/") ? "the ws package" : "a package";
    at(pos, `imports ${kind} "${spec}"`);
  };

  // Names declared in this file (a local `location` is not the DOM's).
  const declared = new Set<string>();
  const collect = (node: ts.Node): void => {
    const name = (node as { name?: ts.Node }).name;
    if (
      name &&
      ts.isIdentifier(name) &&
      (ts.isVariableDeclaration(node) || ts.isParameter(node) || ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node) ||
        ts.isImportSpecifier(node) || ts.isImportClause(node) || ts.isNamespaceImport(node) || ts.isBindingElement(node) ||
        ts.isTypeAliasDeclaration(node) || ts.isInterfaceDeclaration(node) || ts.isTypeParameterDeclaration(node))
    ) {
      declared.add(name.text);
    }
    ts.forEachChild(node, collect);
  };
  collect(sf);

  /** True when the identifier is a property name or a declaration's own name rather than a reference. */
  const isNotAReference = (id: ts.Identifier): boolean => {
    const p = id.parent;
    // `x.process`, `A.NodeJS`, `{ process: 1 }`, `location: string` in an interface, a method named `global`…
    // but `{ process }` is shorthand for `{ process: process }`, a reference.
    if ("name" in p && (p as { name?: ts.Node }).name === id) return !ts.isShorthandPropertyAssignment(p);
    if (ts.isQualifiedName(p)) return p.right === id;
    return ts.isLabeledStatement(p) || ts.isBreakOrContinueStatement(p);
  };

  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      checkSpecifier(node.moduleSpecifier.text, node.moduleSpecifier.getStart(sf));
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const e = node.moduleReference.expression;
      if (ts.isStringLiteral(e)) checkSpecifier(e.text, e.getStart(sf));
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteralLike(arg)) checkSpecifier(arg.text, arg.getStart(sf));
      else at(node.getStart(sf), "imports a computed module specifier");
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      checkSpecifier(node.argument.literal.text, node.argument.getStart(sf));
    } else if (ts.isIdentifier(node)) {
      const runtime = RUNTIME_GLOBALS[node.text];
      if (runtime && !declared.has(node.text) && !isNotAReference(node)) at(node.getStart(sf), `uses the ${runtime} global "${node.text}"`);
    } else if (ts.isPropertyAccessExpression(node) || ts.isElementAccessExpression(node)) {
      // globalThis.process, self.document, globalThis["Deno"]
      const base = node.expression;
      const key = ts.isPropertyAccessExpression(node) ? node.name.text : ts.isStringLiteralLike(node.argumentExpression) ? node.argumentExpression.text : undefined;
      if (ts.isIdentifier(base) && (base.text === "globalThis" || base.text === "self") && key && RUNTIME_GLOBALS[key]) {
        at(node.getStart(sf), `uses the ${RUNTIME_GLOBALS[key]} global "${key}" through ${base.text}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

function tsFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...tsFilesUnder(full));
    else if (name.endsWith(".ts")) out.push(full);
  }
  return out;
}

function portableFiles(): string[] {
  return [...tsFilesUnder(join(SRC, "protocol")), ...tsFilesUnder(join(SRC, "core")), join(SRC, "errors.ts")]
    .map((f) => relative(SRC, f).split("\\").join("/"))
    .sort();
}

describe("architecture: portable code stays portable", () => {
  it("finds the files it is meant to scan", () => {
    const files = portableFiles();
    for (const f of ["errors.ts", "protocol/decoder.ts", "protocol/packet.ts", "protocol/admin.ts", "core/transport.ts"]) {
      expect(files).toContain(f);
    }
  });

  it("src/protocol, src/core and src/errors.ts import no node:*, ws or other package and touch no Node, Deno or DOM global", () => {
    const violations = portableFiles().flatMap((f) => scanSource(f, readFileSync(join(SRC, f), "utf8")));
    // On failure the diff lists each offending file:line.
    expect(violations).toEqual([]);
  });
});

describe("architecture scanner (so the check above can fail)", () => {
  it("reports each kind of violation with file and line", () => {
    const src = [
      `import { connect } from "node:net";`, // 1
      `import WebSocket from "ws";`, // 2
      `import { EventEmitter } from "events";`, // 3
      `import { Client } from "../core/client.ts";`, // 4: protocol may not import core
      `const pid = process.pid;`, // 5
      `const b = Buffer.from("x");`, // 6
      `if (typeof Deno !== "undefined") Deno.exit(0);`, // 7: twice
      `document.title = "x";`, // 8
      `window.addEventListener("load", () => {});`, // 9
      `const g = globalThis.process;`, // 10
      `const m = await import("node:fs");`, // 11
      `let t: NodeJS.Timeout;`, // 12
      `export { x } from "../transports/memory.ts";`, // 13
    ].join("\n");
    const found = scanSource("protocol/bad.ts", src);
    expect(found).toEqual([
      `src/protocol/bad.ts:1: imports a Node built-in "node:net"`,
      `src/protocol/bad.ts:2: imports the ws package "ws"`,
      `src/protocol/bad.ts:3: imports a Node built-in "events"`,
      `src/protocol/bad.ts:4: imports "../core/client.ts" (src/core/client.ts): protocol/ may not depend on it`,
      `src/protocol/bad.ts:5: uses the Node global "process"`,
      `src/protocol/bad.ts:6: uses the Node global "Buffer"`,
      `src/protocol/bad.ts:7: uses the Deno global "Deno"`,
      `src/protocol/bad.ts:7: uses the Deno global "Deno"`,
      `src/protocol/bad.ts:8: uses the DOM global "document"`,
      `src/protocol/bad.ts:9: uses the DOM global "window"`,
      `src/protocol/bad.ts:10: uses the Node global "process" through globalThis`,
      `src/protocol/bad.ts:11: imports a Node built-in "node:fs"`,
      `src/protocol/bad.ts:12: uses the Node global "NodeJS"`,
      `src/protocol/bad.ts:13: imports "../transports/memory.ts" (src/transports/memory.ts): protocol/ may not depend on it`,
    ]);
    expect(scanSource("core/x.ts", `/// <reference types="node" />\nexport {};`)).toEqual([`src/core/x.ts:1: references types "node"`]);
  });

  it("ignores comments, strings, property names and local declarations", () => {
    const src = [
      `// Runtime-agnostic: no Node, Deno or DOM APIs. Never use process.env or window.document.`,
      `/* Buffer, require("node:fs") */`,
      `import { ProtocolError } from "../errors.ts";`,
      `import { PacketDecoder } from "../protocol/decoder.ts";`,
      `import type { Transport } from "./transport.ts";`,
      `const message = "use Deno.connect or node:net in the transport, not here; see window.location";`,
      `const options = { process: 1, global: true, location: "here" };`,
      `options.process + options.location.length;`,
      `interface Where { location: string; document?: string }`,
      `function f(location: string): string { return location; }`,
      `const ab = new ArrayBuffer(8); const sab: SharedArrayBuffer | undefined = undefined;`,
    ].join("\n");
    expect(scanSource("core/clean.ts", src)).toEqual([]);
  });

  it("applies the layer rules: core may use protocol and errors; errors.ts may import nothing", () => {
    expect(scanSource("core/a.ts", `import { x } from "../protocol/packet.ts";\nimport { y } from "./b.ts";\nimport { E } from "../errors.ts";`)).toEqual([]);
    expect(scanSource("core/a.ts", `import { startBridge } from "../../bridge/bridge.ts";`)).toEqual([
      `src/core/a.ts:1: imports "../../bridge/bridge.ts" (bridge/bridge.ts): core/ may not depend on it`,
    ]);
    expect(scanSource("core/a.ts", `import { tcp } from "../transports/tcp-node.ts";`)).toHaveLength(1);
    expect(scanSource("errors.ts", `import { x } from "./protocol/packet.ts";`)).toHaveLength(1);
    expect(scanSource("protocol/a.ts", `import { E } from "../errors.ts";\nimport { b } from "./bytes.ts";`)).toEqual([]);
  });
});
