// Run forkv inside your own Node process: node examples/embedded.mjs
// (inside this repository `forkv` resolves to the package itself; elsewhere: npm install forkv)
import { createServer } from 'forkv';
import Redis from 'ioredis';

// Two independent servers: each has its own keyspace, port and data directory.
const cache = await createServer({ config: { save: '', maxmemory: '64mb', 'maxmemory-policy': 'allkeys-lru' } });
const durable = await createServer({ config: { appendonly: 'yes', appendfsync: 'everysec' } });
console.log(`cache   at ${cache.url} (dir ${cache.dir})`);
console.log(`durable at ${durable.url} (dir ${durable.dir})`);

const a = new Redis(cache.url);
const b = new Redis(durable.url);
await a.set('greeting', 'hello');
await b.set('greeting', 'bonjour');
console.log('cache:', await a.get('greeting'), '| durable:', await b.get('greeting'));

await durable.save(); // SAVE: dump.rdb in durable.dir
console.log('durable keyspace:', (await durable.info('keyspace')).db0);

a.disconnect();
b.disconnect();
await cache.close(); // no save rules: nothing written; the temp dir is removed
await durable.close(); // default save rules: the shutdown save runs first
console.log('closed');
