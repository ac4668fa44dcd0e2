CREATE TABLE "idempotency_keys" (
	"caller" text NOT NULL,
	"key" varchar(255) NOT NULL,
	"fingerprint" text NOT NULL,
	"token" uuid NOT NULL,
	"locked_until" timestamp with time zone NOT NULL,
	"status_code" integer,
	"headers" jsonb,
	"body" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_caller_key_pk" PRIMARY KEY("caller","key")
);
--> statement-breakpoint
CREATE INDEX "idempotency_keys_created_idx" ON "idempotency_keys" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "books_cover_key" ON "books" USING btree ("cover");--> statement-breakpoint
CREATE UNIQUE INDEX "posts_image_key" ON "posts" USING btree ("image");