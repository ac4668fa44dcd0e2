DROP INDEX "books_created_idx";--> statement-breakpoint
DROP INDEX "books_creator_created_idx";--> statement-breakpoint
DROP INDEX "posts_published_created_idx";--> statement-breakpoint
DROP INDEX "posts_created_idx";--> statement-breakpoint
DROP INDEX "reviews_book_created_idx";--> statement-breakpoint
CREATE INDEX "books_created_idx" ON "books" USING btree ("created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "books_creator_created_idx" ON "books" USING btree ("creator_id","created_at" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "posts_published_created_idx" ON "posts" USING btree ("is_published","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "posts_created_idx" ON "posts" USING btree ("created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "reviews_book_created_idx" ON "reviews" USING btree ("book_id","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);