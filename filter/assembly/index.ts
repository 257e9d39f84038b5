// Entry file: AssemblyScript exports only what this file exports. The abort handler is linked in by
// `--use abort=…/abi/abort/onAbort` (see filter/build.mjs).
export * from "./abi/exports";
import "./abi/abort";
