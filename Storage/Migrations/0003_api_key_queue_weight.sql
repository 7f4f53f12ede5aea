-- How many of a model's free slots a key gets per turn while requests of several keys wait in the model's queue
-- (round-robin across keys). NULL is the default weight, 1.
ALTER TABLE api_keys ADD COLUMN queue_weight integer CHECK (queue_weight BETWEEN 1 AND 100);
