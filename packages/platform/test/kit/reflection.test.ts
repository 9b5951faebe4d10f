/**
 * Proves server reflection works the way grpcurl uses it: a client of
 * grpc.reflection.v1 (loaded from the reflection package's own .proto) lists
 * the services of a running kit server and fetches the file descriptor of a
 * paycore service by symbol, including its dependencies (common types).
 */
import { expect } from 'chai';
import { credentials, loadPackageDefinition, type Client, type ClientDuplexStream } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { join } from 'node:path';
import { startEchoHarness, type Harness } from './harness';

interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

type ReflectionClient = Client & {
  serverReflectionInfo(options: { deadline: number }): ClientDuplexStream<object, ReflectionResponse>;
};

function reflectionClient(address: string): ReflectionClient {
  const protoPath = join(
    require.resolve('@grpc/reflection'),
    '..',
    '..',
    'proto',
    'grpc',
    'reflection',
    'v1',
    'reflection.proto',
  );
  const pkg = loadPackageDefinition(loadSync(protoPath, { keepCase: false })) as unknown as {
    grpc: {
      reflection: {
        v1: {
          ServerReflection: new (
            a: string,
            c: ReturnType<typeof credentials.createInsecure>,
          ) => ReflectionClient;
        };
      };
    };
  };
  return new pkg.grpc.reflection.v1.ServerReflection(address, credentials.createInsecure());
}

async function ask(client: ReflectionClient, request: object): Promise<ReflectionResponse> {
  return new Promise((resolve, reject) => {
    const call = client.serverReflectionInfo({ deadline: Date.now() + 5000 });
    call.on('data', (res: ReflectionResponse) => {
      resolve(res);
      call.end();
    });
    call.on('error', reject);
    call.write(request);
  });
}

describe('platform kit: server reflection', function () {
  this.timeout(60_000);
  let h: Harness;
  let client: ReflectionClient;

  before(async () => {
    h = await startEchoHarness();
    client = reflectionClient(h.address);
  });
  after(async () => {
    client.close();
    await h.close();
  });

  it('lists the paycore service and grpc.health.v1', async () => {
    const res = await ask(client, { listServices: '' });
    const names = res.listServicesResponse?.service.map((s) => s.name) ?? [];
    expect(names).to.include.members(['paycore.testing.v1.EchoService', 'grpc.health.v1.Health']);
  });

  it('serves the descriptor of a service with its dependencies', async () => {
    const res = await ask(client, { fileContainingSymbol: 'paycore.testing.v1.EchoService' });
    const files = res.fileDescriptorResponse?.fileDescriptorProto ?? [];
    const text = files.map((b) => Buffer.from(b).toString('latin1')).join('\n');
    // @grpc/reflection names files per package; what matters to grpcurl is the symbols.
    expect(text).to.contain('EchoService');
    expect(text).to.contain('RecordNoteRequest');
    expect(files.length, 'the service file and its dependency on paycore.common.v1').to.be.greaterThan(1);
    expect(text).to.contain('Money');
  });
});
