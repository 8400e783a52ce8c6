-- Courses: uploaded as drafts, listed once published.
CREATE TABLE courses (
    id               UUID          PRIMARY KEY,
    instructor_id    UUID          NOT NULL,
    title            TEXT          NOT NULL,
    description      TEXT          NOT NULL,
    category         TEXT          NOT NULL,
    level            TEXT          NOT NULL CHECK (level IN ('beginner', 'intermediate', 'advanced', 'all_levels')),
    language         TEXT          NOT NULL,
    tags             TEXT[]        NOT NULL DEFAULT '{}',
    price            NUMERIC(19,4) NOT NULL CHECK (price >= 0 AND price <> 'NaN'),
    currency         CHAR(3)       NOT NULL,
    status           TEXT          NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'unpublished')),
    -- The package in the content store, with what was checked at upload.
    content_key      TEXT          NOT NULL,
    content_type     TEXT          NOT NULL,
    content_size     BIGINT        NOT NULL CHECK (content_size >= 0),
    content_sha256   TEXT          NOT NULL,
    content_filename TEXT          NOT NULL,
    -- Review aggregates, kept exact by updating them under the course row lock.
    rating_count     INTEGER       NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
    rating_sum       BIGINT        NOT NULL DEFAULT 0 CHECK (rating_sum >= 0),
    rating_avg       NUMERIC(5,4)  GENERATED ALWAYS AS
                         (CASE WHEN rating_count = 0 THEN 0 ELSE rating_sum::numeric / rating_count END) STORED,
    -- Buyers with access: the popularity sort.
    purchase_count   BIGINT        NOT NULL DEFAULT 0 CHECK (purchase_count >= 0),
    -- Title over tags over description; maintained by the trigger below (array_to_string is
    -- not immutable, so a generated column cannot hold it).
    search           TSVECTOR      NOT NULL DEFAULT ''::tsvector,
    created_at       TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ   NOT NULL DEFAULT now(),
    published_at     TIMESTAMPTZ,
    CHECK ((status = 'draft') OR published_at IS NOT NULL)
);

CREATE FUNCTION courses_search_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search :=
        setweight(to_tsvector('english', coalesce(NEW.title, '')), 'A') ||
        setweight(to_tsvector('english', array_to_string(NEW.tags, ' ')), 'B') ||
        setweight(to_tsvector('english', coalesce(NEW.description, '')), 'C');
    RETURN NEW;
END
$$;
CREATE TRIGGER courses_search BEFORE INSERT OR UPDATE OF title, description, tags ON courses
    FOR EACH ROW EXECUTE FUNCTION courses_search_update();

-- Only published courses are ever searched or listed: partial indexes keep them small.
CREATE INDEX courses_search_gin ON courses USING GIN (search) WHERE status = 'published';
CREATE INDEX courses_newest ON courses (published_at DESC, id DESC) WHERE status = 'published';
CREATE INDEX courses_rating ON courses (rating_avg DESC, id DESC) WHERE status = 'published';
CREATE INDEX courses_popularity ON courses (purchase_count DESC, id DESC) WHERE status = 'published';
CREATE INDEX courses_price ON courses (price, id) WHERE status = 'published';
CREATE INDEX courses_category ON courses (category, published_at DESC) WHERE status = 'published';
CREATE INDEX courses_instructor ON courses (instructor_id, created_at DESC);

-- A purchase is also the enrollment: a completed one (not fully refunded) grants access.
CREATE TABLE purchases (
    id               UUID          PRIMARY KEY,
    course_id        UUID          NOT NULL REFERENCES courses (id),
    buyer_id         UUID          NOT NULL,
    instructor_id    UUID          NOT NULL,
    -- The price when bought; later price changes do not touch it.
    price            NUMERIC(19,4) NOT NULL CHECK (price >= 0 AND price <> 'NaN'),
    currency         CHAR(3)       NOT NULL,
    status           TEXT          NOT NULL CHECK (status IN ('pending', 'completed', 'failed', 'refunded')),
    payment_id       UUID,
    client_secret    TEXT,
    failure_code     TEXT,
    -- The split, fixed when the purchase completes; the rate is kept with the sale.
    split_rate       NUMERIC(5,4)  NOT NULL CHECK (split_rate >= 0 AND split_rate <= 1),
    instructor_share NUMERIC(19,4),
    platform_share   NUMERIC(19,4),
    refunded_amount     NUMERIC(19,4) NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= price),
    instructor_reversed NUMERIC(19,4) NOT NULL DEFAULT 0 CHECK (instructor_reversed >= 0),
    platform_reversed   NUMERIC(19,4) NOT NULL DEFAULT 0 CHECK (platform_reversed >= 0),
    created_at       TIMESTAMPTZ   NOT NULL DEFAULT now(),
    completed_at     TIMESTAMPTZ,
    updated_at       TIMESTAMPTZ   NOT NULL DEFAULT now(),
    CHECK (instructor_share IS NULL OR instructor_share + platform_share = price),
    CHECK (instructor_share IS NULL OR (instructor_reversed <= instructor_share AND platform_reversed <= platform_share)),
    CHECK ((status IN ('completed', 'refunded')) = (completed_at IS NOT NULL))
);
-- One live purchase per buyer and course, whatever idempotency key each attempt used.
CREATE UNIQUE INDEX purchases_one_live ON purchases (buyer_id, course_id) WHERE status IN ('pending', 'completed');
CREATE INDEX purchases_buyer ON purchases (buyer_id, completed_at DESC, id DESC) WHERE status = 'completed';

-- Payouts requested by instructors, marked paid by an admin.
CREATE TABLE payouts (
    id            UUID          PRIMARY KEY,
    instructor_id UUID          NOT NULL,
    amount        NUMERIC(19,4) NOT NULL CHECK (amount > 0),
    currency      CHAR(3)       NOT NULL,
    status        TEXT          NOT NULL CHECK (status IN ('requested', 'paid')),
    requested_at  TIMESTAMPTZ   NOT NULL,
    paid_at       TIMESTAMPTZ,
    paid_by       TEXT,
    CHECK ((status = 'paid') = (paid_at IS NOT NULL))
);
CREATE INDEX payouts_instructor ON payouts (instructor_id, requested_at DESC, id DESC);

-- The instructor's ledger: a positive line per sale, a negative one per refund reversal.
-- pending -> available (refund window passed) -> in_payout (requested) -> paid.
CREATE TABLE earnings (
    id            UUID          PRIMARY KEY,
    instructor_id UUID          NOT NULL,
    purchase_id   UUID          NOT NULL REFERENCES purchases (id),
    course_id     UUID          NOT NULL,
    kind          TEXT          NOT NULL CHECK (kind IN ('sale', 'refund')),
    amount        NUMERIC(19,4) NOT NULL CHECK (amount <> 'NaN' AND ((kind = 'sale') = (amount > 0))),
    currency      CHAR(3)       NOT NULL,
    status        TEXT          NOT NULL CHECK (status IN ('pending', 'available', 'in_payout', 'paid')),
    available_at  TIMESTAMPTZ   NOT NULL,
    payout_id     UUID          REFERENCES payouts (id),
    created_at    TIMESTAMPTZ   NOT NULL,
    CHECK ((status IN ('in_payout', 'paid')) = (payout_id IS NOT NULL))
);
CREATE UNIQUE INDEX earnings_one_sale ON earnings (purchase_id) WHERE kind = 'sale';
CREATE INDEX earnings_instructor ON earnings (instructor_id, created_at DESC, id DESC);
CREATE INDEX earnings_maturing ON earnings (available_at) WHERE status = 'pending';
CREATE INDEX earnings_available ON earnings (instructor_id, currency) WHERE status = 'available';

CREATE TABLE reviews (
    id            UUID        PRIMARY KEY,
    course_id     UUID        NOT NULL REFERENCES courses (id),
    user_id       UUID        NOT NULL,
    rating        SMALLINT    NOT NULL CHECK (rating BETWEEN 1 AND 5),
    body          TEXT        NOT NULL,
    helpful_count INTEGER     NOT NULL DEFAULT 0 CHECK (helpful_count >= 0),
    reply         TEXT,
    replied_at    TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (course_id, user_id),
    CHECK ((reply IS NULL) = (replied_at IS NULL))
);
CREATE INDEX reviews_newest ON reviews (course_id, created_at DESC, id DESC);
CREATE INDEX reviews_helpful ON reviews (course_id, helpful_count DESC, id DESC);

-- One helpful vote per user and review.
CREATE TABLE review_votes (
    review_id  UUID        NOT NULL REFERENCES reviews (id),
    user_id    UUID        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (review_id, user_id)
);
