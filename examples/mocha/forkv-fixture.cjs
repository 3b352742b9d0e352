// Mocha global fixtures: one in-memory server for the run, its URL in process.env.FORKV_URL.
const { ForkvServer } = require('forkv');

let server;

exports.mochaGlobalSetup = async function () {
  server = await ForkvServer.create({ config: { save: '' } });
  process.env.FORKV_URL = server.url;
};

exports.mochaGlobalTeardown = async function () {
  await server.stop({ cleanup: true });
};
