ALTER TABLE "books" ADD COLUMN "cover_info" jsonb;--> statement-breakpoint
ALTER TABLE "media_deletions" ADD COLUMN "variants" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "posts" ADD COLUMN "image_info" jsonb;