-- Writers that started before this migration must not slip between the counts and the
-- triggers: the lock holds them off until the migration commits.
LOCK TABLE "posts", "books" IN SHARE ROW EXCLUSIVE MODE;
--> statement-breakpoint
CREATE TABLE "list_counts" (
	"name" text PRIMARY KEY NOT NULL,
	"count" integer NOT NULL
);
--> statement-breakpoint
INSERT INTO "list_counts" ("name", "count") VALUES
	('posts', (SELECT count(*) FROM "posts")),
	('published_posts', (SELECT count(*) FROM "posts" WHERE "is_published")),
	('books', (SELECT count(*) FROM "books"));
--> statement-breakpoint
-- Row triggers run inside the transaction that changes the rows: the counts commit or roll
-- back with them. Concurrent writers queue on the counter row for the rest of their
-- transaction, which is short here (an insert or delete, then commit).
CREATE FUNCTION "list_counts_posts"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	added integer := CASE WHEN TG_OP = 'DELETE' THEN 0 ELSE 1 END;
	removed integer := CASE WHEN TG_OP = 'INSERT' THEN 0 ELSE 1 END;
	published_change integer :=
		(CASE WHEN TG_OP <> 'DELETE' AND NEW."is_published" THEN 1 ELSE 0 END) -
		(CASE WHEN TG_OP <> 'INSERT' AND OLD."is_published" THEN 1 ELSE 0 END);
BEGIN
	IF added <> removed THEN
		UPDATE "list_counts" SET "count" = "count" + added - removed WHERE "name" = 'posts';
	END IF;
	IF published_change <> 0 THEN
		UPDATE "list_counts" SET "count" = "count" + published_change WHERE "name" = 'published_posts';
	END IF;
	RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "posts_list_counts" AFTER INSERT OR DELETE OR UPDATE OF "is_published" ON "posts"
	FOR EACH ROW EXECUTE FUNCTION "list_counts_posts"();
--> statement-breakpoint
CREATE FUNCTION "list_counts_books"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE "list_counts" SET "count" = "count" + CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END WHERE "name" = 'books';
	RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "books_list_counts" AFTER INSERT OR DELETE ON "books"
	FOR EACH ROW EXECUTE FUNCTION "list_counts_books"();
--> statement-breakpoint
-- TRUNCATE skips row triggers; an emptied table counts zero.
CREATE FUNCTION "list_counts_truncate"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE "list_counts" SET "count" = 0 WHERE "name" = ANY (TG_ARGV);
	RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "posts_list_counts_truncate" AFTER TRUNCATE ON "posts"
	FOR EACH STATEMENT EXECUTE FUNCTION "list_counts_truncate"('posts', 'published_posts');
--> statement-breakpoint
CREATE TRIGGER "books_list_counts_truncate" AFTER TRUNCATE ON "books"
	FOR EACH STATEMENT EXECUTE FUNCTION "list_counts_truncate"('books');
