import t from 'tap'
import { openDatabase } from '../../src/db/client.js'
import { migrateDatabase } from '../../src/db/migrate.js'
import { listCounts, posts, users } from '../../src/db/schema.js'
import { testStorage } from '../helpers/database.js'
import { runScript } from '../helpers/process.js'

t.test('npm run db:recount sets the kept counts from the tables', async (t) => {
  const { dataDir, databaseUrl, env } = await testStorage(t, 'recount')

  // Set up, then let go of the database: embedded PGlite admits one process at a time.
  const database = openDatabase({ databaseUrl, dataDir, poolMax: 1 })
  await migrateDatabase(database)
  const [author] = await database.db.insert(users).values({ username: 'writer', email: 'w@example.com', passwordHash: 'x' }).returning()
  await database.db.insert(posts).values({ authorId: author!.id, title: 'One', slug: 'one', content: 'text', isPublished: true })
  await database.db.update(listCounts).set({ count: 42 })
  await database.close()

  const run = await runScript('dist/cli/recount.js', [], env)
  t.equal(run.code, 0, run.stderr)
  t.equal(run.stdout, 'Recounted: posts 1, published_posts 1, books 0\n')
})
