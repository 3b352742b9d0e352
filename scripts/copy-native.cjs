// After tsc: copy the generated loader and any locally built binary next to the
// compiled JS (dist/native), so `require('./binding.cjs')` resolves at run time.
const fs = require('node:fs');
const path = require('node:path');
const src = path.join(__dirname, '..', 'ts', 'native');
const dst = path.join(__dirname, '..', 'dist', 'native');
fs.mkdirSync(dst, { recursive: true });
for (const f of fs.readdirSync(src)) {
  if (f === 'binding.cjs' || f === 'binding.d.cts' || f.endsWith('.node')) {
    // Copy then rename: overwriting a .node in place corrupts the pages a running server
    // has mapped (it dies with SIGBUS); a rename leaves running servers on the old inode.
    const tmp = path.join(dst, `.${f}.${process.pid}.tmp`);
    fs.copyFileSync(path.join(src, f), tmp);
    fs.renameSync(tmp, path.join(dst, f));
  }
}
fs.chmodSync(path.join(__dirname, '..', 'dist', 'cli.js'), 0o755);
