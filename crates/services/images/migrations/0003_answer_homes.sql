-- What an attached card's answer lives in (`chat:{id}` for a coach's message, `profile:{id}` for
-- advice), so the card is deleted when that is.
ALTER TABLE images ADD COLUMN answer_home TEXT;
CREATE INDEX images_by_answer_home ON images (owner, answer_home);
