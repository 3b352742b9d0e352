// Runs Debian's redis-cli against a server (the real client the issues name).
import { execFile } from 'node:child_process';

export function redisCli(port: number, args: string[], input?: string): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    const child = execFile('/usr/bin/redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 20000 }, (err, stdout, stderr) => {
      const code = err && typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? Number((err as { code?: unknown }).code) : err ? 1 : 0;
      resolve({ stdout, stderr, code });
    });
    if (input !== undefined) {
      child.stdin?.end(input);
    }
  });
}
