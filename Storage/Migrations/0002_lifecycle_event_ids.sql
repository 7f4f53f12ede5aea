-- ModelManager gives each lifecycle event an id when the event happens, before the event is first written: a batch
-- written again after a failure whose outcome it could not know (the commit may have happened) then stores each event
-- once (ON CONFLICT (event_id) DO NOTHING). Rows from before this migration get random ids; later writers supply them.
ALTER TABLE model_lifecycle_events ADD COLUMN event_id uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE model_lifecycle_events ALTER COLUMN event_id DROP DEFAULT;
ALTER TABLE model_lifecycle_events ADD CONSTRAINT model_lifecycle_events_event_id_key UNIQUE (event_id);
