/**
 * Proves that configuration is validated once and that every problem names
 * the variable at fault, so a bad deployment stops with an actionable message.
 */
import { expect } from 'chai';
import { ConfigError, int, loadConfig, oneOf, optional, serviceConfigSchema, str, url } from './config';

describe('config', () => {
  const schema = {
    PORT: int({ min: 0, max: 65535, default: 8080 }),
    NAME: str({ pattern: /^[a-z]+$/ }),
    DB: url({ protocols: ['postgres'] }),
    MODE: oneOf(['a', 'b'] as const, { default: 'a' }),
    EXTRA: optional(),
  };

  it('reads, converts and applies defaults', () => {
    const c = loadConfig(schema, { NAME: 'account', DB: 'postgres://u@h:5432/d' });
    expect(c).to.deep.equal({
      PORT: 8080,
      NAME: 'account',
      DB: 'postgres://u@h:5432/d',
      MODE: 'a',
      EXTRA: undefined,
    });
    expect(Object.isFrozen(c)).to.equal(true);
  });

  it('names a missing required variable', () => {
    expect(() => loadConfig(schema, { DB: 'postgres://h/d' })).to.throw(ConfigError, /NAME: is required/);
  });

  it('names each malformed variable, all at once', () => {
    try {
      loadConfig(schema, { PORT: '70000', NAME: 'Bad!', DB: 'mysql://h/d', MODE: 'c' });
      expect.fail('should throw');
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      const message = (err as Error).message;
      for (const name of ['PORT', 'NAME', 'DB', 'MODE']) expect(message).to.contain(name);
      expect(message).to.contain('must be <= 65535');
    }
  });

  it('never prints a password from a URL', () => {
    // Missing ':' after the scheme: not a URL, so the message quotes the value, redacted.
    expect(() => loadConfig({ DB: url({ protocols: ['postgres'] }) }, { DB: 'postgres//user:s3cret@h/d' }))
      .to.throw(ConfigError, /DB: must be a URL/)
      .with.property('message')
      .that.does.not.contain('s3cret');
  });

  it('has a common service schema that requires SERVICE_NAME', () => {
    expect(() => loadConfig(serviceConfigSchema, {})).to.throw(ConfigError, /SERVICE_NAME/);
    const c = loadConfig(serviceConfigSchema, { SERVICE_NAME: 'account', GRPC_PORT: '0' });
    expect(c.GRPC_PORT).to.equal(0);
    expect(c.LOG_LEVEL).to.equal('info');
  });
});
