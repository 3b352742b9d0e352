// Mocha with forkv (run: npx mocha --config examples/mocha/.mocharc.cjs).
module.exports = {
  require: [`${__dirname}/forkv-fixture.cjs`],
  spec: [`${__dirname}/*.spec.cjs`],
};
