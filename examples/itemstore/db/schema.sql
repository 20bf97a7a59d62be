-- The itemstore schema: run once, by the database image's entrypoint, on its first start.
CREATE TABLE IF NOT EXISTS items (
  id         INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name       VARCHAR(255) NOT NULL,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY by_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
