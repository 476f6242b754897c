export * from './disclosure-consent-store.js';
