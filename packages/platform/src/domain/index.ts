/**
 * The pure part of the service kit: what a service's `domain/` may import
 * (`@paycore/platform/domain`). Nothing here does I/O or loads a framework.
 */
export * from './transitions';
