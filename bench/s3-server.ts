import S3rver from 's3rver'

/** The S3-protocol server of the benchmark, in its own process so it competes with nobody's event loop. */
const directory = process.argv[2]
if (!directory) throw new Error('usage: s3-server.ts <directory>')
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: 'bench-bucket' }] })
const { port } = await server.run()
process.send?.({ port })
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)))
