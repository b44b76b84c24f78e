-- The inspection's disposition of a returned serial (restock, damaged, scrap: canonical
-- Disposition), NULL until the return is inspected. On shipped_serials it is what the shipment
-- path reads: a serial back through a return whose unit was damaged or scrapped is not on the
-- shelf to sell, so shipping it again opens serial_scrapped (a restocked one ships as before);
-- the column is cleared with the return columns when a shipment takes the row over. On
-- returned_serials it is the history of what each return decided for each unit.
ALTER TABLE shipped_serials ADD COLUMN disposition TEXT;
ALTER TABLE returned_serials ADD COLUMN disposition TEXT;
