import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { openDatabase } from '../../src/db/client.js'
import { mediaDeletions } from '../../src/db/schema.js'
import { testStorage } from '../helpers/database.js'
import { runScript } from '../helpers/process.js'
import { startS3Server } from '../helpers/s3.js'
import * as images from '../helpers/images.js'

const credentials = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' }

t.test('npm run storage:check against an S3-protocol server', async (t) => {
  const s3 = await startS3Server(t)
  const ok = await runScript('dist/cli/storage-check.js', [], { ...s3.env, ...credentials })
  t.equal(ok.code, 0, ok.stderr)
  t.match(ok.stdout, /Media store: s3 \(bucket test-bucket\)\n\[ok\] put media\/storage_check\/.*\.png \(s3:PutObject\)\n\[ok\] read back from http.*\n\[ok\] deleted/)
  t.same(await s3.keys(), [], 'the probe is gone')

  const wrongKey = await runScript('dist/cli/storage-check.js', [], { ...s3.env, ...credentials, AWS_ACCESS_KEY_ID: 'WRONG' })
  t.equal(wrongKey.code, 1)
  t.match(wrongKey.stderr, /\[FAIL\] put failed: the credentials were refused \(InvalidAccessKeyId\)/)

  const wrongBase = await runScript('dist/cli/storage-check.js', [], { ...s3.env, ...credentials, MEDIA_BASE_URL: `${s3.endpoint}/other-bucket/media/` })
  t.equal(wrongBase.code, 1)
  t.match(wrongBase.stderr, /\[FAIL\] read back failed.*bucket policy probably lacks public s3:GetObject/)
  t.match(wrongBase.stderr, /\[ok\] deleted/, 'the probe is still cleaned up')

  const noBucket = await runScript('dist/cli/storage-check.js', [], { ...s3.env, ...credentials, S3_BUCKET: 'no-such-bucket' })
  t.match(noBucket.stderr, /does not exist/)
})

t.test('npm run storage:check on local disk', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'check-local-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const ok = await runScript('dist/cli/storage-check.js', [], { MEDIA_ROOT: root })
  t.equal(ok.code, 0, ok.stderr)
  t.match(ok.stdout, /\[ok\] read back from disk/)
})

t.test('npm run media:retry-deletions works through what is due', async (t) => {
  const s3 = await startS3Server(t)
  const { dataDir, databaseUrl, env: storage } = await testStorage(t, 'retry')
  const env = { ...s3.env, ...credentials, ...storage }

  const empty = await runScript('dist/cli/retry-deletions.js', [], env)
  t.equal(empty.code, 0, empty.stderr)
  t.equal(empty.stdout, 'Deleted 0 object(s); 0 deletion(s) failed and stay scheduled\n')

  // An orphan and its overdue deletion row, as a crashed upload would leave them.
  const db = openDatabase({ databaseUrl, dataDir, poolMax: 1 })
  const name = 'covers/00000000-0000-4000-8000-000000000001.jpg'
  await s3.client.send(new PutObjectCommand({ Bucket: 'test-bucket', Key: `media/${name}`, Body: await images.jpeg() }))
  await db.db.insert(mediaDeletions).values({ name, dueAt: new Date(0) })
  await db.close()

  const done = await runScript('dist/cli/retry-deletions.js', [], env)
  t.equal(done.stdout, 'Deleted 1 object(s); 0 deletion(s) failed and stay scheduled\n', done.stderr)
  t.same(await s3.keys(), [])
})
