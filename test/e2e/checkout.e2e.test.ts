import { checkoutScenario } from '../support/checkout-scenario.js';
import { startEmbedded } from '../support/embedded.js';

checkoutScenario(
  'embedded (SQLite log, in-process bus, SQLite read store, memory cache)',
  startEmbedded,
);
