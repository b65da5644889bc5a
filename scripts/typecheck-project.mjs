#!/usr/bin/env node
// Type-checks one workspace package with the root tsconfig.json (strict, the same options as
// `npm run typecheck`), reporting only the diagnostics of that package's own files: the `lint`
// target of each Nx project (nx.json). The packages it imports are read, not reported on.
//   node scripts/typecheck-project.mjs libs/contracts
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = process.argv[2];
if (!target) {
  console.error('usage: node scripts/typecheck-project.mjs <project root, e.g. libs/contracts>');
  process.exit(2);
}
const projectDir = resolve(root, target) + sep;

const parsed = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (d) => {
    console.error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    process.exit(2);
  },
});
const own = (file) => resolve(file).startsWith(projectDir);
const rootNames = parsed.fileNames.filter(own);
if (rootNames.length === 0) {
  console.log(`typecheck ${target}: no TypeScript files`);
  process.exit(0);
}
const program = ts.createProgram({ rootNames, options: parsed.options, projectReferences: parsed.projectReferences });
const diagnostics = [...program.getConfigFileParsingDiagnostics(), ...ts.getPreEmitDiagnostics(program)].filter(
  (d) => !d.file || own(d.file.fileName),
);
if (diagnostics.length > 0) {
  console.error(
    ts.formatDiagnosticsWithColorAndContext(diagnostics, {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => root,
      getNewLine: () => '\n',
    }),
  );
  console.error(`typecheck ${target}: ${diagnostics.length} error(s)`);
  process.exit(1);
}
console.log(`typecheck ${target}: ${rootNames.length} files, no errors (${relative(root, projectDir) || '.'})`);
