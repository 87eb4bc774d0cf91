import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, sqlitePath } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

describe('configuration from the environment', () => {
  it('defaults to the embedded mode under ./data', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.role).toBe('all');
    expect(config.dataDir).toBe(path.resolve('./data'));
    expect(sqlitePath(config.eventStoreUrl)).toBe(path.resolve('./data/events.db'));
    expect(sqlitePath(config.readStoreUrl)).toBe(path.resolve('./data/read.db'));
    expect(config.busUrl.protocol).toBe('memory:');
    expect(config.cacheUrl.protocol).toBe('memory:');
    expect(config.notifierUrl.protocol).toBe('log:');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it.each([
    ['PORT', '70000', /PORT=70000 is not a whole number from 0 to 65535/],
    ['PORT', 'abc', /PORT=abc is not a whole number/],
    [
      'STREAMFOLD_ROLE',
      'boss',
      /STREAMFOLD_ROLE=boss is not one of all, api, relay, projector, worker/,
    ],
    ['STREAMFOLD_EVENTSTORE_URL', 'postgres://x', /scheme postgres: is not supported here/],
    ['STREAMFOLD_CACHE_URL', 'not a url', /is not a URL/],
    ['STREAMFOLD_WORKFLOW_MAX_ATTEMPTS', '0', /STREAMFOLD_WORKFLOW_MAX_ATTEMPTS=0/],
  ])('refuses %s=%s with a message naming it', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it('keeps a MongoDB seed list as given', () => {
    const url = 'mongodb://user:pw@a.example:27017,b.example:27017/shop?replicaSet=rs0';
    const config = loadConfig({ STREAMFOLD_READSTORE_URL: url });
    expect(config.readStoreConnection).toBe(url);
    expect(config.readStoreUrl.protocol).toBe('mongodb:');
  });

  it('resolves relative sqlite paths and refuses an empty one', () => {
    expect(sqlitePath(new URL('sqlite:./x/events.db'))).toBe(path.resolve('x/events.db'));
    expect(sqlitePath(new URL('sqlite::memory:'))).toBe(':memory:');
    expect(() => sqlitePath(new URL('sqlite:'))).toThrow(ConfigError);
  });
});
