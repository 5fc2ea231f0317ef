// What the interop scripts share: onnxruntime-node or a skip, and --name value arguments.
'use strict';

// onnxruntime-node, or exit 77 (ctest's skip) with the command that installs it.
function requireOrtOrSkip() {
  try { return require('onnxruntime-node'); } catch (e) {
    console.log('SKIP: onnxruntime-node is not installed (npm install --ignore-scripts onnxruntime-node adm-zip)');
    process.exit(77);
  }
}

// `--name value` pairs into args[name]; everything else into args.positional, in order.
function parseArgs(argv) {
  const args = { positional: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) args[argv[i].slice(2)] = argv[++i];
    else args.positional.push(argv[i]);
  }
  return args;
}

module.exports = { requireOrtOrSkip, parseArgs };
