import { describe, expect, test } from '@jest/globals';
import { ConfigError, loadConfig } from './app-config.js';

const load = (env: Record<string, string>) => loadConfig(env, '/srv/app');

describe('loadConfig', () => {
  test('defaults: embedded database in ./.data, FHIR base on localhost:8080', () => {
    const c = load({});
    expect(c).toMatchObject({
      port: 8080,
      fhirBaseUrl: 'http://localhost:8080/fhir',
      issuerUrl: 'http://localhost:8080/auth',
      database: { kind: 'embedded', dataDir: '/srv/app/.data/pg' },
      redisUrl: undefined,
      demoData: true,
    });
  });

  test('DATABASE_URL selects PostgreSQL with a pool and turns demo data off by default', () => {
    const c = load({ DATABASE_URL: 'postgres://u@db:5432/x', DATABASE_POOL_MAX: '20', REDIS_URL: 'redis://r:6379' });
    expect(c.database).toEqual({ kind: 'postgres', url: 'postgres://u@db:5432/x', poolMax: 20 });
    expect(c.redisUrl).toBe('redis://r:6379');
    expect(c.demoData).toBe(false);
  });

  test('public URLs are configurable for deployment behind a proxy', () => {
    const c = load({ PUBLIC_URL: 'https://portal.example.org/', FHIR_BASE_URL: 'https://api.example.org/r4/' });
    expect(c.fhirBaseUrl).toBe('https://api.example.org/r4');
    expect(c.issuerUrl).toBe('https://portal.example.org/auth');
  });

  test.each([
    [{ PORT: 'eighty' }, 'PORT: expected an integer from 0 to 65535, got "eighty"'],
    [{ PORT: '70000' }, 'PORT: expected an integer from 0 to 65535, got "70000"'],
    [{ DATABASE_URL: 'mysql://x/y' }, 'DATABASE_URL: expected a postgres:// or postgresql:// URL, got mysql://…'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL: not a valid URL'],
    [{ REDIS_URL: 'http://r' }, 'REDIS_URL: expected a redis:// or rediss:// URL, got http://…'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
    [{ DEMO_DATA: 'maybe' }, 'DEMO_DATA: expected true or false, got "maybe"'],
    [{ FHIR_BASE_URL: 'ftp://x' }, 'FHIR_BASE_URL: expected a http:// or https:// URL, got ftp://…'],
  ])('%j is rejected with a clear line', (env, message) => {
    expect(() => load(env)).toThrow(ConfigError);
    try {
      load(env);
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([message]);
    }
  });

  test('every wrong setting is reported at once', () => {
    try {
      load({ PORT: 'x', LOG_LEVEL: 'y' });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect((err as ConfigError).problems).toHaveLength(2);
    }
  });
});
