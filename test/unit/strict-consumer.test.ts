// Users with the strictest common compiler flags must be able to compile against the SDK: this compiles
// strict-consumer.fixture.ts (and through it the sources of the node entry, the bridge and the server, as Deno and
// source importers do) with exactOptionalPropertyTypes and noUncheckedIndexedAccess, and expects no diagnostics.
import { resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

describe("strict consumer", () => {
  it("compiles with exactOptionalPropertyTypes and noUncheckedIndexedAccess", () => {
    const program = ts.createProgram([resolve(__dirname, "strict-consumer.fixture.ts")], {
      target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ["lib.es2022.d.ts", "lib.dom.d.ts"], types: ["node"], strict: true, noEmit: true, allowImportingTsExtensions: true,
      exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, skipLibCheck: true,
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) =>
      `${d.file ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ` : ""}${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`
    );
    expect(diagnostics).toEqual([]);
  }, 60_000);
});
