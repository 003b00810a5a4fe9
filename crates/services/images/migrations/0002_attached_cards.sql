-- Cards drawn for an answer (`chat-message:{id}`, `advice:{id}`), found by what they illustrate.
ALTER TABLE images ADD COLUMN attached_to TEXT;
CREATE INDEX images_by_attachment ON images (owner, attached_to);
