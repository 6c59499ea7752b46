-- Which HL7 message carries the orders sent to a device: ORM^O01 (empty)
-- or OML^O21.
ALTER TABLE devices ADD COLUMN order_message TEXT NOT NULL DEFAULT '';
