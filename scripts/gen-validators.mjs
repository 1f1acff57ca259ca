// Writes packages/core/src/messages/generated/message-validators.ts from the zod schemas of the
// thread messages (packages/core/src/messages/message-validator-spec.ts), through the compiled
// generator in packages/core/dist. `--check`: writes nothing, exits 1 when the file is stale (the
// build runs this, so a schema change without a regenerated file fails the build, not a thread).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'packages/core/src/messages/generated/message-validators.ts');
const { generateValidatorModule } = await import(
  join(root, 'packages/core/dist/messages/validator-codegen.js')
);
const { MESSAGE_VALIDATOR_SPEC } = await import(
  join(root, 'packages/core/dist/messages/message-validator-spec.js')
);
const text = generateValidatorModule(MESSAGE_VALIDATOR_SPEC);
let current = null;
try {
  current = readFileSync(target, 'utf8');
} catch {}
if (process.argv.includes('--check')) {
  if (current !== text) {
    console.error(
      'gen-validators: packages/core/src/messages/generated/message-validators.ts is stale: run `pnpm run gen:validators`, then build again',
    );
    process.exit(1);
  }
} else if (current !== text) {
  writeFileSync(target, text);
  console.log(`gen-validators: wrote ${target} (${text.length} bytes)`);
}
